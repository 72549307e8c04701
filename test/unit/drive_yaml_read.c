/* drive_yaml_read.c - prints what the manifest reader lint uses reads from
 * a file, for test/e2e/test_lint_reading.py to set beside what kubectl
 * reads: one JSON line per document ({"document": ROOT}), then one per
 * diagnostic ({"error" or "warning": MESSAGE, "line": N, "column": N}).
 * Every document is read whole (no kind filter). Exits 0 when the file
 * was read without error, 1 on an input error, 2 when it cannot run. */
#include "util/util.h"
#include "yaml/document.h"

#include <stdio.h>
#include <stdlib.h>

static int print_document(void *data, ds_document *doc)
{
	cJSON *line = cJSON_CreateObject();
	char *text = NULL;

	(void)data;
	if (line && cJSON_AddItemToObject(line, "document", doc->root)) {
		doc->root = NULL;
		text = cJSON_PrintUnformatted(line);
	}
	if (text)
		puts(text);
	cJSON_free(text);
	cJSON_Delete(line);
	ds_document_free(doc);
	return text ? 0 : -1;
}

int main(int argc, char **argv)
{
	ds_diag_list diags = {0};
	char *buf = NULL, *error = NULL;
	size_t len;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: drive_yaml_read FILE\n");
		return 2;
	}
	if (ds_read_file(argv[1], DS_MAX_FILE_BYTES, &buf, &len, &error) < 0) {
		fprintf(stderr, "%s: %s\n", argv[1], error ? error : "out of memory");
		free(error);
		return 2;
	}
	rc = ds_yaml_load_filtered(buf, len, NULL, print_document, NULL, &diags);
	for (size_t i = 0; i < diags.count; i++) {
		cJSON *line = cJSON_CreateObject();
		char *text;
		cJSON_AddStringToObject(line, diags.items[i].is_error ? "error" : "warning", diags.items[i].message);
		cJSON_AddNumberToObject(line, "line", diags.items[i].pos.line);
		cJSON_AddNumberToObject(line, "column", diags.items[i].pos.column);
		text = cJSON_PrintUnformatted(line);
		if (text)
			puts(text);
		cJSON_free(text);
		cJSON_Delete(line);
	}
	ds_diag_list_free(&diags);
	free(buf);
	return rc < 0 ? 1 : 0;
}
