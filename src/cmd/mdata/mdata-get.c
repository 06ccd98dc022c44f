/*
 * mdata-get - print the value of one metadata key of this instance, as
 * SmartOS's mdata-get does (exit 0 found, 1 not found, 2 error, 3 usage).
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
		printf(
		    "Usage: mdata-get <keyname>\n"
		    "Prints the value of a metadata key of this instance.\n");
		return MDEC_SUCCESS;
	}
	if (argc != 2) {
		fprintf(stderr, "Usage: mdata-get <keyname>\n");
		return MDEC_USAGE_ERROR;
	}
	const char *key = argv[1];
	if (mdata_client_open(&c, why, sizeof(why)) < 0) {
		fprintf(stderr, "ERROR: could not initialise protocol: %s\n",
			why);
		return MDEC_ERROR;
	}
	int r = mdata_client_call(&c, "GET", key, strlen(key), &st, &data, &len,
				  why, sizeof(why));
	mdata_client_close(&c);
	if (r < 0) {
		fprintf(stderr, "Error getting metadata for key '%s': %s\n",
			key, why);
		return MDEC_ERROR;
	}
	int rc = MDEC_SUCCESS;
	switch (st) {
	case METADATA_SUCCESS:
		fwrite(data, 1, len, stdout);
		if (len == 0 || data[len - 1] != '\n')
			fputc('\n', stdout);
		break;
	case METADATA_NOTFOUND:
		fprintf(stderr, "No metadata for '%s'\n", key);
		rc = MDEC_NOTFOUND;
		break;
	case METADATA_FAILURE:
		fprintf(stderr, "Error getting metadata for key '%s': %s\n",
			key, len ? data : "failure");
		rc = MDEC_ERROR;
		break;
	}
	free(data);
	if (fflush(stdout) != 0)
		rc = MDEC_ERROR;
	return rc;
}
