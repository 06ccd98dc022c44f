/*
 * mdata-list - list this instance's metadata keys (customer_metadata and
 * the readable internal ones; never sdc: keys), one per line, as SmartOS's
 * mdata-list does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

int main(int argc, char **argv)
{
	struct mdata_client c;
	enum metadata_status st;
	char why[512], *data;
	size_t len;

	if (argc == 2 && !strcmp(argv[1], "--help")) {
		printf("Usage: mdata-list\n"
		       "Lists the metadata keys of this instance.\n");
		return MDEC_SUCCESS;
	}
	if (argc != 1) {
		fprintf(stderr, "Usage: mdata-list\n");
		return MDEC_USAGE_ERROR;
	}
	if (mdata_client_open(&c, why, sizeof(why)) < 0) {
		fprintf(stderr, "ERROR: could not initialise protocol: %s\n",
			why);
		return MDEC_ERROR;
	}
	int r = mdata_client_call(&c, "KEYS", "", 0, &st, &data, &len, why,
				  sizeof(why));
	mdata_client_close(&c);
	if (r < 0) {
		fprintf(stderr, "Error listing metadata keys: %s\n", why);
		return MDEC_ERROR;
	}
	int rc = MDEC_SUCCESS;
	if (st == METADATA_SUCCESS) {
		fwrite(data, 1, len, stdout);
		if (len && data[len - 1] != '\n')
			fputc('\n', stdout);
	} else {
		fprintf(stderr, "Error listing metadata keys: %s\n",
			len ? data : "failure");
		rc = MDEC_ERROR;
	}
	free(data);
	if (fflush(stdout) != 0)
		rc = MDEC_ERROR;
	return rc;
}
