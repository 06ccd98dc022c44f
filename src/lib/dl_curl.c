/*
 * dl_curl.c - libcurl, loaded on first use (dl.h).
 *
 * curl_global_init and curl_easy_init report a library that cannot be
 * loaded as curl does a failure of its own; every other function takes a
 * handle or list they made (curl_slist_append makes a list: it loads too).
 */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <stdarg.h>

#include "lib/dl.h"

struct hull_dl hull_dl_curl = HULL_DL_INIT("libcurl.so.4");
#define L hull_dl_curl

CURLcode curl_global_init(long flags)
{
	__typeof__(&curl_global_init) f = HULL_DL_TRY(L, curl_global_init);
	return f ? f(flags) : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
	__typeof__(&curl_easy_init) f = HULL_DL_TRY(L, curl_easy_init);
	return f ? f() : NULL;
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	__typeof__(&curl_slist_append) f = HULL_DL_TRY(L, curl_slist_append);
	return f ? f(list, s) : NULL;
}

HULL_DL_VOID1(L, curl_slist_free_all, struct curl_slist *)
HULL_DL_VOID1(L, curl_easy_cleanup, CURL *)
HULL_DL_VOID1(L, curl_easy_reset, CURL *)
HULL_DL_FWD1(L, CURLcode, curl_easy_perform, CURL *)
HULL_DL_FWD1(L, const char *, curl_easy_strerror, CURLcode)
HULL_DL_FWD4(L, CURLcode, curl_easy_send, CURL *, const void *, size_t,
	     size_t *)
HULL_DL_FWD4(L, CURLcode, curl_easy_recv, CURL *, void *, size_t, size_t *)

/* The option's number says its argument's type (CURLOPTTYPE_* in curl.h),
 * as curl itself reads it. */
CURLcode curl_easy_setopt(CURL *c, CURLoption opt, ...)
{
	__typeof__(&curl_easy_setopt) f = HULL_DL_NEED(L, curl_easy_setopt);
	va_list ap;
	CURLcode r;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		r = f(c, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		r = f(c, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		r = f(c, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		r = f(c, opt, va_arg(ap, curl_off_t));
	else
		r = f(c, opt, va_arg(ap, void *));
	va_end(ap);
	return r;
}

/* Every CURLINFO_* takes a pointer. */
CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	__typeof__(&curl_easy_getinfo) f = HULL_DL_NEED(L, curl_easy_getinfo);
	va_list ap;
	va_start(ap, info);
	void *p = va_arg(ap, void *);
	va_end(ap);
	return f(c, info, p);
}
