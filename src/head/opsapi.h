/*
 * opsapi.h - the operator's create and delete of packages, networks and
 * images over HTTP (what `hulladm package add`, `network create|delete`
 * and `image import` do), for the web console's admin pages and scripts:
 *   POST   /:login/packages        {name, memory, disk, vcpus, swap,
 *                                    cpu_cap, brand}
 *   DELETE /:login/packages/:id    refused while an instance uses it
 *   POST   /:login/networks        hulladm network create's fields
 *                                    (NAPI's names) plus public
 *   DELETE /:login/networks/:id    refused while an instance holds an
 *                                    address of it
 *   POST   /:login/images?action=import-from-url  {url, uuid}: the image
 *          from an IMGAPI (URL/images/UUID and its file)
 *   DELETE /:login/images/:id      refused while an instance uses it
 * Only the operator (the config's admin account) may: anyone else gets
 * 403 NotAuthorized. Triton has these in PAPI, NAPI and IMGAPI, which
 * only its operators reach; CloudAPI itself has none of them.
 */
#ifndef HULL_HEAD_OPSAPI_H
#define HULL_HEAD_OPSAPI_H

#include "head/api.h"

/* A request that changes packages, networks or images (what is
 * "packages", "networks" or "images"). */
int ops_dispatch(struct api_req *q, const char *what);

#endif
