/* remote.c - imgadm commands that talk to image sources. */
#include <stdio.h>

#include "imgadm.h"

int imgadm_sources(int argc, char **argv)
{
	fprintf(stderr, "imgadm: %s: not implemented yet\n", argv[0]);
	return IMGADM_ERROR;
}

int imgadm_avail(int argc, char **argv)
{
	fprintf(stderr, "imgadm: %s: not implemented yet\n", argv[0]);
	return IMGADM_ERROR;
}

int imgadm_show(int argc, char **argv)
{
	fprintf(stderr, "imgadm: %s: not implemented yet\n", argv[0]);
	return IMGADM_ERROR;
}

int imgadm_import(int argc, char **argv)
{
	fprintf(stderr, "imgadm: %s: not implemented yet\n", argv[0]);
	return IMGADM_ERROR;
}

