/*
 * mdata-put - set one metadata key of this instance, as SmartOS's
 * mdata-put does: the value is the second argument, or standard input when
 * there is none (which must then not be a terminal). Needs protocol V2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"

/* Reads stdin up to METADATA_VALUE_MAX bytes; -1 when larger or unreadable. */
static int read_stdin(struct metadata_buf *b)
{
	char buf[65536];
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		metadata_buf_append(b, buf, (size_t)n);
		if (b->len > METADATA_VALUE_MAX) {
			errno = EFBIG;
			return -1;
		}
	}
}

int main(int argc, char **argv)
{
	struct mdata_client c;
	struct metadata_buf val = {0};
	enum metadata_status st;
	char why[512], *data;
	size_t len, alen;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		printf("Usage: mdata-put <keyname> [ <value> ]\n"
		       "Sets a metadata key of this instance; without <value> "
		       "it is read from stdin.\n");
		return MDEC_SUCCESS;
	}
	if (argc != 2 && argc != 3) {
		fprintf(stderr, "Usage: mdata-put <keyname> [ <value> ]\n");
		return MDEC_USAGE_ERROR;
	}
	const char *key = argv[1];
	if (argc == 3) {
		metadata_buf_puts(&val, argv[2]);
	} else if (isatty(STDIN_FILENO)) {
		fprintf(stderr, "ERROR: either specify the metadata value as "
				"the second command-line argument, or pipe "
				"content to stdin.\n");
		return MDEC_USAGE_ERROR;
	} else if (read_stdin(&val) < 0) {
		fprintf(stderr, "ERROR: reading the value from stdin: %s\n",
			errno == EFBIG ? "value too large" : strerror(errno));
		metadata_buf_fini(&val);
		return MDEC_ERROR;
	}
	if (mdata_client_open(&c, why, sizeof(why)) < 0) {
		fprintf(stderr, "ERROR: could not initialise protocol: %s\n",
			why);
		metadata_buf_fini(&val);
		return MDEC_ERROR;
	}
	if (c.version < 2) {
		mdata_client_close(&c);
		metadata_buf_fini(&val);
		fprintf(stderr, "ERROR: host does not support PUT\n");
		return MDEC_ERROR;
	}
	char *arg =
	    mdata_put_arg(key, val.data ? val.data : "", val.len, &alen);
	metadata_buf_fini(&val);
	int r = mdata_client_call(&c, "PUT", arg, alen, &st, &data, &len, why,
				  sizeof(why));
	free(arg);
	mdata_client_close(&c);
	if (r < 0) {
		fprintf(stderr, "Error putting metadata for key '%s': %s\n",
			key, why);
		return MDEC_ERROR;
	}
	int rc = MDEC_SUCCESS;
	if (st != METADATA_SUCCESS) {
		fprintf(stderr, "Error putting metadata for key '%s': %s\n",
			key, len ? data : "failure");
		rc = MDEC_ERROR;
	}
	free(data);
	return rc;
}
