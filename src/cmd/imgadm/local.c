/* local.c - imgadm commands that work on the pool alone. */
#include <stdio.h>

#include "imgadm.h"

int imgadm_install(int argc, char **argv)
{
	fprintf(stderr, "imgadm: %s: not implemented yet\n", argv[0]);
	return IMGADM_ERROR;
}

int imgadm_list(int argc, char **argv)
{
	fprintf(stderr, "imgadm: %s: not implemented yet\n", argv[0]);
	return IMGADM_ERROR;
}

int imgadm_get(int argc, char **argv)
{
	fprintf(stderr, "imgadm: %s: not implemented yet\n", argv[0]);
	return IMGADM_ERROR;
}

int imgadm_delete(int argc, char **argv)
{
	fprintf(stderr, "imgadm: %s: not implemented yet\n", argv[0]);
	return IMGADM_ERROR;
}

int imgadm_vacuum(int argc, char **argv)
{
	fprintf(stderr, "imgadm: %s: not implemented yet\n", argv[0]);
	return IMGADM_ERROR;
}

int imgadm_ancestry(int argc, char **argv)
{
	fprintf(stderr, "imgadm: %s: not implemented yet\n", argv[0]);
	return IMGADM_ERROR;
}

