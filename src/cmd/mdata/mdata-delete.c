/*
 * mdata-delete - remove one metadata key of this instance, as SmartOS's
 * mdata-delete does (needs protocol V2; deleting a missing key succeeds).
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
		printf("Usage: mdata-delete <keyname>\n"
		       "Removes a metadata key of this instance.\n");
		return MDEC_SUCCESS;
	}
	if (argc != 2) {
		fprintf(stderr, "Usage: mdata-delete <keyname>\n");
		return MDEC_USAGE_ERROR;
	}
	const char *key = argv[1];
	if (mdata_client_open(&c, why, sizeof(why)) < 0) {
		fprintf(stderr, "ERROR: could not initialise protocol: %s\n",
			why);
		return MDEC_ERROR;
	}
	if (c.version < 2) {
		mdata_client_close(&c);
		fprintf(stderr, "ERROR: host does not support DELETE\n");
		return MDEC_ERROR;
	}
	int r = mdata_client_call(&c, "DELETE", key, strlen(key), &st, &data,
				  &len, why, sizeof(why));
	mdata_client_close(&c);
	if (r < 0) {
		fprintf(stderr, "Error deleting metadata key '%s': %s\n", key,
			why);
		return MDEC_ERROR;
	}
	int rc = MDEC_SUCCESS;
	if (st == METADATA_NOTFOUND) {
		fprintf(stderr, "No metadata for '%s'\n", key);
		rc = MDEC_NOTFOUND;
	} else if (st == METADATA_FAILURE) {
		fprintf(stderr, "Error deleting metadata key '%s': %s\n", key,
			len ? data : "failure");
		rc = MDEC_ERROR;
	}
	free(data);
	return rc;
}
