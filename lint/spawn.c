/* spawn.c - runs a renderer (helm, kustomize, kubectl) as a child process,
 * without a shell: standard input from /dev/null, standard output read
 * whole up to a limit, the end of standard error kept, and a time limit
 * after which the child's process group is killed. */
#include "lint/render.h"
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Milliseconds on the monotonic clock. */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Appends n bytes to the NUL-terminated buffer *buf of *len bytes. Returns
 * 0, or -1 out of memory. */
static int append(char **buf, size_t *len, const char *data, size_t n)
{
	char *grown = ds_array_reserve(*buf, *len, n + 1, 1);

	if (!grown)
		return -1;
	memcpy(grown + *len, data, n);
	*len += n;
	grown[*len] = '\0';
	*buf = grown;
	return 0;
}

/* Keeps the last DS_SPAWN_ERR_KEEP bytes of what the child writes to its
 * standard error: the end of it says why it failed. */
static int keep_tail(ds_spawn_result *res, const char *data, size_t n)
{
	if (n >= DS_SPAWN_ERR_KEEP) {
		data += n - DS_SPAWN_ERR_KEEP;
		n = DS_SPAWN_ERR_KEEP;
	}
	if (res->err_len + n > DS_SPAWN_ERR_KEEP) {
		size_t drop = res->err_len + n - DS_SPAWN_ERR_KEEP;
		memmove(res->err, res->err + drop, res->err_len - drop);
		res->err_len -= drop;
	}
	return append(&res->err, &res->err_len, data, n);
}

/* The file actions and attributes of the child: /dev/null, the pipes,
 * a process group of its own, signals as a fresh process has them.
 * Returns 0, or an errno value. */
static int prepare(posix_spawn_file_actions_t *fa, posix_spawnattr_t *attr, int devnull, int out, int err)
{
	sigset_t none, defaults;
	int rc;

	sigemptyset(&none);
	sigfillset(&defaults);
	sigdelset(&defaults, SIGKILL);
	sigdelset(&defaults, SIGSTOP);
	if ((rc = posix_spawn_file_actions_init(fa)) != 0)
		return rc;
	if ((rc = posix_spawnattr_init(attr)) != 0) {
		posix_spawn_file_actions_destroy(fa);
		return rc;
	}
	if ((rc = posix_spawn_file_actions_adddup2(fa, devnull, 0)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(fa, out, 1)) != 0 ||
	    (rc = posix_spawn_file_actions_adddup2(fa, err, 2)) != 0 ||
	    (rc = posix_spawnattr_setflags(attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
							 POSIX_SPAWN_SETSIGDEF)) != 0 ||
	    (rc = posix_spawnattr_setpgroup(attr, 0)) != 0 || (rc = posix_spawnattr_setsigmask(attr, &none)) != 0 ||
	    (rc = posix_spawnattr_setsigdefault(attr, &defaults)) != 0) {
		posix_spawn_file_actions_destroy(fa);
		posix_spawnattr_destroy(attr);
	}
	return rc;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Starts argv[0] with its output on pipes. Returns the child's pid with
 * *out_fd and *err_fd the reading ends, or -1 with *error set. */
static pid_t start(const char *const *argv, int *out_fd, int *err_fd, char **error)
{
	int out[2] = {-1, -1}, err[2] = {-1, -1}, devnull = open("/dev/null", O_RDONLY | O_CLOEXEC), rc;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	pid_t pid = -1;

	if (devnull < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
		rc = errno;
	} else if ((rc = prepare(&fa, &attr, devnull, out[1], err[1])) == 0) {
		/* posix_spawn() takes char *const argv[] but does not write them */
		rc = posix_spawn(&pid, argv[0], &fa, &attr, (char *const *)argv, environ);
		posix_spawn_file_actions_destroy(&fa);
		posix_spawnattr_destroy(&attr);
	}
	close_fd(devnull);
	close_fd(out[1]);
	close_fd(err[1]);
	if (rc != 0) {
		close_fd(out[0]);
		close_fd(err[0]);
		ds_fail(error, "cannot run %s: %s", argv[0], strerror(rc));
		return -1;
	}
	*out_fd = out[0];
	*err_fd = err[0];
	return pid;
}

/* Reads what is ready on fd into the result: standard output (is_out),
 * straight into its buffer, up to max_out bytes; or the tail of standard
 * error. Returns 1 while the pipe is open, 0 at its end, -1 out of memory;
 * sets res->too_large when the output passes the limit. */
static int drain(int fd, bool is_out, size_t max_out, ds_spawn_result *res)
{
	char chunk[4096], *grown;
	size_t room = 1 << 16;
	ssize_t n;

	if (!is_out) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0)
			return errno == EINTR || errno == EAGAIN ? 1 : 0;
		return n == 0 ? 0 : keep_tail(res, chunk, (size_t)n) < 0 ? -1 : 1;
	}
	/* one byte past the limit tells output over it from output at it */
	if (room > max_out + 1 - res->out_len)
		room = max_out + 1 - res->out_len;
	grown = ds_array_reserve(res->out, res->out_len, room + 1, 1);
	if (!grown)
		return -1;
	res->out = grown;
	n = read(fd, res->out + res->out_len, room);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : 0;
	res->out_len += (size_t)n;
	res->out[res->out_len] = '\0';
	if (res->out_len > max_out) {
		res->too_large = true;
		return 0;
	}
	return n == 0 ? 0 : 1;
}

/* Waits for the child until the deadline; kills its process group when it
 * is still running then. Returns its status as waitpid() gives it. */
static int reap(pid_t pid, long long deadline, ds_spawn_result *res)
{
	long pause = 50 * 1000; /* nanoseconds, doubled up to 10 ms */
	int status = 0;

	for (;;) {
		pid_t got = waitpid(pid, &status, WNOHANG);
		if (got == pid || (got < 0 && errno != EINTR))
			return status;
		if (got == 0 && (res->timed_out || res->too_large || now_ms() >= deadline)) {
			res->timed_out |= !res->too_large;
			/* the group still exists: its leader is not reaped yet */
			kill(-pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			return status;
		}
		/* it has closed its output: it is about to exit */
		if (got == 0) {
			nanosleep(&(struct timespec){0, pause}, NULL);
			pause = pause < 10 * 1000 * 1000 ? pause * 2 : pause;
		}
	}
}

int ds_spawn_capture(const char *const *argv, unsigned timeout_s, size_t max_out, ds_spawn_result *res,
		     char **error)
{
	long long deadline = now_ms() + (long long)timeout_s * 1000;
	int fds[2], open_count = 2, rc = 0;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	pid = start(argv, &fds[0], &fds[1], error);
	if (pid < 0)
		return -1;
	while (open_count > 0 && !res->too_large && rc == 0) {
		struct pollfd pfd[2];
		long long left = deadline - now_ms();
		int n = 0;
		if (left <= 0) {
			res->timed_out = true;
			break;
		}
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				pfd[n++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
		if (poll(pfd, (nfds_t)n, left > 1000 ? 1000 : (int)left) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n; i++) {
			int which = pfd[i].fd == fds[0] ? 0 : 1, more;
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			more = drain(pfd[i].fd, which == 0, max_out, res);
			if (more < 0)
				rc = -1;
			if (more <= 0) {
				close(fds[which]);
				fds[which] = -1;
				open_count--;
			}
		}
	}
	if (rc < 0)
		res->too_large = true; /* stops the child all the same */
	res->status = reap(pid, deadline, res);
	close_fd(fds[0]);
	close_fd(fds[1]);
	if (rc < 0) {
		ds_spawn_result_free(res);
		return ds_fail(error, "out of memory");
	}
	return 0;
}

void ds_spawn_result_free(ds_spawn_result *res)
{
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof(*res));
}
