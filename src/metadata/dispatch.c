/*
 * dispatch.c - answering one request (see dispatch.h).
 */
#include "metadata/dispatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metadata/resolve.h"

struct change {
	const char *key;
	const char *value; /* NULL for DELETE */
	size_t len;
	char *msg; /* refusal reason, owned */
};

/* Runs under the record lock on a fresh copy of the record. */
static int change_edit(json_t *record, void *arg)
{
	struct change *c = arg;
	if (metadata_apply(record, c->key, c->value, c->len, &c->msg) !=
	    METADATA_SUCCESS)
		return 1;
	return 0;
}

int metadata_store_change(const struct metadata_store *st, const char *key,
			  const char *value, size_t len, char **msg,
			  struct hull_err *err)
{
	if (st->change)
		return st->change(st->ctx, key, value, len, msg, err);
	struct change c = {.key = key, .value = value, .len = len};
	int r = st->modify(st->ctx, change_edit, &c, err);
	*msg = c.msg;
	return r;
}

static void reply(struct metadata_buf *out, const struct metadata_request *req,
		  enum metadata_status st, const char *v, size_t n)
{
	if (req->version == 2)
		metadata_reply_v2(out, req->reqid, st, v, n);
	else
		metadata_reply_v1(out, st, v, n);
}

static int answer(const struct metadata_store *store,
		  const struct metadata_request *req, struct metadata_buf *out,
		  struct hull_err *err)
{
	char *v = NULL;
	size_t n = 0;
	enum metadata_status st;

	if (req->op == METADATA_OP_NEGOTIATE) {
		metadata_buf_puts(out, "V2_OK\n");
		return 0;
	}
	if (req->op == METADATA_OP_PUT || req->op == METADATA_OP_DELETE) {
		struct change c = {0};
		int r = metadata_store_change(
		    store, req->key,
		    req->op == METADATA_OP_PUT ? req->value : NULL,
		    req->value_len, &c.msg, err);
		if (r < 0) {
			const char *why = err->code == EBUSY
					      ? "Instance busy, try again"
					      : "Internal error";
			reply(out, req, METADATA_FAILURE, why, strlen(why));
		} else if (r > 0) {
			reply(out, req, METADATA_FAILURE, c.msg,
			      c.msg ? strlen(c.msg) : 0);
			r = 0;
		} else {
			/* What the SmartOS host sends, though the protocol
			 * says SUCCESS has no payload here (spec §0.4). */
			reply(out, req, METADATA_SUCCESS, "OK", 2);
		}
		free(c.msg);
		return r;
	}
	json_t *vm = store->read(store->ctx, err);
	if (!vm) {
		reply(out, req, METADATA_FAILURE, "Internal error", 14);
		return -err->code;
	}
	if (req->op == METADATA_OP_KEYS) {
		v = metadata_keys(vm, &n);
		st = METADATA_SUCCESS;
	} else {
		st = metadata_resolve(vm, req->key, &v, &n);
	}
	json_decref(vm);
	reply(out, req, st, v, n);
	free(v);
	return 0;
}

int metadata_dispatch(const struct metadata_store *store, const char *line,
		      size_t len, struct metadata_buf *out,
		      struct hull_err *err)
{
	struct metadata_request req;
	int r = 0;

	switch (metadata_request_parse(line, len, &req)) {
	case METADATA_REQ_OK:
		r = answer(store, &req, out, err);
		break;
	case METADATA_REQ_INVALID:
		metadata_buf_puts(out, METADATA_INVALID_COMMAND);
		break;
	case METADATA_REQ_FAILURE:
		reply(out, &req, METADATA_FAILURE, req.error,
		      strlen(req.error));
		break;
	}
	metadata_request_fini(&req);
	return r;
}
