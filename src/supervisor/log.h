/*
 * log.h - the supervisor's log: one JSON object per line
 * {"time","level","uuid","msg"} on stderr, which the daemonised supervisor
 * points at R/<uuid>/logs/supervisor.log.
 */
#ifndef HULL_SUPERVISOR_LOG_H
#define HULL_SUPERVISOR_LOG_H
void sv_log_init(const char *uuid);
void sv_log(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* ISO-8601 UTC with milliseconds, as SmartOS writes timestamps. */
void sv_log_timestamp(char out[32]);
#endif
