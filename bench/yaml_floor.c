/* yaml_floor.c - the floor for any linter that reads YAML: libyaml's event
 * parser run over every file named on standard input (one path a line),
 * and nothing else. Prints the number of files and events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Parses one file to its end. Returns the number of events, or -1. */
static long parse_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	yaml_parser_t parser;
	yaml_event_t event;
	long events = 0;
	int done = 0;

	if (!f)
		return -1;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	while (!done) {
		if (!yaml_parser_parse(&parser, &event))
			break;
		done = event.type == YAML_STREAM_END_EVENT;
		yaml_event_delete(&event);
		events++;
	}
	yaml_parser_delete(&parser);
	fclose(f);
	return events;
}

int main(void)
{
	char path[4096];
	long files = 0, events = 0;

	while (fgets(path, sizeof(path), stdin)) {
		long n;
		path[strcspn(path, "\n")] = '\0';
		n = parse_file(path);
		if (n < 0) {
			fprintf(stderr, "yaml_floor: cannot read %s\n", path);
			return 1;
		}
		files++;
		events += n;
	}
	printf("%ld files, %ld events\n", files, events);
	return 0;
}
