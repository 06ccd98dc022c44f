/*
 * events.c - imgadm's lines for what the image library tells it
 * (hull/image.h events), worded per command as imgadm always printed them.
 */
#include <stdio.h>
#include <string.h>

#include "imgadm.h"
#include "lib/json.h"

static void download(struct imgadm_events *e, const struct hull_image_event *v)
{
	if (!e->tty)
		return;
	if (strcmp(e->uuid, v->uuid)) {
		snprintf(e->uuid, sizeof(e->uuid), "%s", v->uuid);
		e->last_pct = -1;
	}
	int pct = v->total ? (int)(v->done * 100 / v->total) : 0;
	if (pct == e->last_pct)
		return;
	e->last_pct = pct;
	fprintf(stderr, "\rDownloading image %s: %3d%% (%.1f/%.1f MiB)",
		v->uuid, pct, (double)v->done / (1 << 20),
		(double)v->total / (1 << 20));
	if (v->done >= v->total)
		fputc('\n', stderr);
}

static void skipped(struct imgadm_events *e, const struct hull_image_event *v)
{
	json_t *m = v->manifest;
	if (e->quiet)
		return;
	if (e->cmd == IMGADM_EV_INSTALL) {
		if (json_is_string(json_object_get(m, "name")))
			printf("Image %s (%s %s) is already installed, "
			       "skipping\n",
			       v->uuid, hull_json_str(m, "name", ""),
			       hull_json_str(m, "version", ""));
		else
			printf("Image %s is already installed, skipping\n",
			       v->uuid);
	} else if (m) {
		/* An archive's image: its manifest was read first. */
		printf("Image %s (%s@%s) is already installed\n", v->uuid,
		       hull_json_str(m, "name", ""),
		       hull_json_str(m, "version", ""));
	} else if (v->depth == 0) {
		printf("Image %s is already installed\n", v->uuid);
	}
}

static void on_event(const struct hull_image_event *v, void *arg)
{
	struct imgadm_events *e = arg;
	switch (v->kind) {
	case HULL_IMAGE_EV_DOWNLOAD:
		download(e, v);
		break;
	case HULL_IMAGE_EV_SKIPPED:
		skipped(e, v);
		break;
	case HULL_IMAGE_EV_NODES_DROPPED:
		imgadm_warn_nodes(v->count);
		break;
	case HULL_IMAGE_EV_INSTALLED:
		if (!e->quiet)
			printf("%s image %s (%s@%s)\n",
			       e->cmd == IMGADM_EV_INSTALL ? "Installed"
							   : "Imported",
			       v->uuid, hull_json_str(v->manifest, "name", ""),
			       hull_json_str(v->manifest, "version", ""));
		break;
	case HULL_IMAGE_EV_PARTIAL_REMOVED:
		printf("Removed %s (left by an interrupted install)\n",
		       v->name);
		break;
	case HULL_IMAGE_EV_DELETED:
		printf("Deleted image %s (%s@%s)\n", v->uuid,
		       hull_json_str(v->manifest, "name", "-"),
		       hull_json_str(v->manifest, "version", "-"));
		break;
	}
}

const struct hull_image_events *imgadm_events(struct imgadm_events *e)
{
	e->ev.fn = on_event;
	e->ev.arg = e;
	return &e->ev;
}
