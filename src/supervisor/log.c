/*
 * log.c - JSON-lines logging for the supervisor.
 */
#include "supervisor/log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static char log_uuid[64];

void sv_log_init(const char *uuid)
{
	snprintf(log_uuid, sizeof(log_uuid), "%s", uuid);
}

void sv_log_timestamp(char out[32])
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

void sv_log(const char *level, const char *fmt, ...)
{
	char msg[2048], ts[32];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sv_log_timestamp(ts);
	json_t *j = json_pack("{s:s, s:s, s:s, s:s}", "time", ts, "level",
			      level, "uuid", log_uuid, "msg", msg);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (s) {
		size_t len = strlen(s);
		s[len] = '\n';
		(void)!write(STDERR_FILENO, s, len + 1);
		s[len] = '\0';
	}
	free(s);
	json_decref(j);
}
