/*
 * bootdisk.c - the firmware-less boot loader (see bootdisk.h): partition
 * table, ext2/3/4 through libext2fs (read-only), the boot configuration
 * rules of bootcfg.h, and the copies of kernel and initrd.
 */
#include "hvm/bootdisk.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <et/com_err.h>
#include <ext2fs/ext2_err.h>
#include <ext2fs/ext2fs.h>

#include "hvm/parttab.h"
#include "lib/dl.h"
#include "lib/fileio.h"
#include "lib/xalloc.h"

#define DIR_NAMES_MAX 4096 /* names read from one directory */
/* Blocks (data and map) of one directory: /boot of a distribution holds
 * a few dozen names, 4096 names of 255 bytes fill some 1,100 4-KiB
 * blocks. */
#define DIR_BLOCKS_MAX 2048
#define LINKS_MAX 8 /* symbolic links followed in one path, as namei's */
#define CHUNK (1u << 20)

void hvm_boot_fini(struct hvm_boot *b)
{
	if (!b)
		return;
	hvm_bootent_fini(&b->ent);
	free(b->kernel_file);
	free(b->initrd_file);
	memset(b, 0, sizeof(*b));
}

static pthread_once_t et_once = PTHREAD_ONCE_INIT;

static void et_init(void)
{
	initialize_ext2_error_table();
}

static int ext_err(struct hull_err *err, errcode_t e, const char *what)
{
	int code = (e > 0 && e < 4096) ? (int)e : EIO;
	if (e == EXT2_ET_FILE_NOT_FOUND)
		code = ENOENT;
	return hull_err_set(err, code, "%s: %s", what, error_message(e));
}

/* Counts the blocks (data and extent-tree nodes) a walk visits. */
static int count_cb(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
		    blk64_t ref_blk, int ref_offset, void *priv)
{
	unsigned *n = priv;
	return ++*n > DIR_BLOCKS_MAX ? BLOCK_ABORT : 0;
}

/* A directory the walk may read: its size and the blocks its map names
 * (counted, up to DIR_BLOCKS_MAX, before anything iterates it) are
 * bounded, so a map that loops or fans out ends here instead of spinning
 * (libext2fs walks every block a directory's map names). */
static int dir_check(ext2_filsys fs, ext2_ino_t ino,
		     const struct ext2_inode *inode, const char *path,
		     struct hull_err *err)
{
	if (!LINUX_S_ISDIR(inode->i_mode))
		return hull_err_set(err, ENOENT, "%s: not a directory", path);
	if (EXT2_I_SIZE(inode) > (uint64_t)DIR_BLOCKS_MAX * fs->blocksize)
		return hull_err_set(err, EFBIG,
				    "%s: a directory of more than %d blocks",
				    path, DIR_BLOCKS_MAX);
	if (inode->i_flags & EXT4_INLINE_DATA_FL)
		return 0;
	unsigned n = 0;
	errcode_t e = ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY, NULL,
					    count_cb, &n);
	if (n > DIR_BLOCKS_MAX)
		return hull_err_set(err, EFBIG,
				    "%s: a directory of more than %d blocks",
				    path, DIR_BLOCKS_MAX);
	if (e)
		return ext_err(err, e, path);
	return 0;
}

static int read_ino(ext2_filsys fs, ext2_ino_t ino, uint64_t size, int fd,
		    char *buf, const char *what, struct hull_err *err);

/* Resolves path from directory cwd one component at a time, each
 * directory checked by dir_check before libext2fs looks into it, symbolic
 * links followed up to LINKS_MAX in all (*links counts them). */
static int resolve(ext2_filsys fs, ext2_ino_t cwd, const char *path, int *links,
		   ext2_ino_t *out, struct hull_err *err)
{
	ext2_ino_t cur = path[0] == '/' ? EXT2_ROOT_INO : cwd;
	_cleanup_free_ char *copy = xstrdup(path);
	char *save = NULL;
	for (char *name = strtok_r(copy, "/", &save); name;
	     name = strtok_r(NULL, "/", &save)) {
		struct ext2_inode inode;
		errcode_t e = ext2fs_read_inode(fs, cur, &inode);
		if (e)
			return ext_err(err, e, path);
		/* the directory being looked into, for messages */
		size_t dlen = (size_t)(name - copy);
		_cleanup_free_ char *dir =
		    dlen > 1 ? xstrndup(path, dlen - 1) : xstrdup("/");
		int r = dir_check(fs, cur, &inode, dir, err);
		if (r < 0)
			return r;
		ext2_ino_t next;
		if (ext2fs_lookup(fs, cur, name, (int)strlen(name), NULL,
				  &next))
			return hull_err_set(err, ENOENT, "%s: not found", path);
		if ((e = ext2fs_read_inode(fs, next, &inode)))
			return ext_err(err, e, path);
		if (LINUX_S_ISLNK(inode.i_mode)) {
			if (++*links > LINKS_MAX)
				return hull_err_set(
				    err, ELOOP,
				    "%s: more than %d symbolic links", path,
				    LINKS_MAX);
			uint64_t size = EXT2_I_SIZE(&inode);
			if (size == 0 || size >= fs->blocksize)
				return hull_err_set(err, ENOENT,
						    "%s: a bad symbolic link",
						    path);
			_cleanup_free_ char *target = xcalloc(1, size + 1);
			if (ext2fs_is_fast_symlink(&inode))
				memcpy(target, inode.i_block, size);
			else if ((r = read_ino(fs, next, size, -1, target, path,
					       err)) < 0)
				return r;
			if (strlen(target) != size)
				return hull_err_set(err, ENOENT,
						    "%s: a bad symbolic link",
						    path);
			if ((r = resolve(fs, cur, target, links, &next, err)) <
			    0)
				return r;
		}
		cur = next;
	}
	*out = cur;
	return 0;
}

/* The inode of a regular file or directory at path, or -ENOENT. */
static int lookup(ext2_filsys fs, const char *path, ext2_ino_t *ino,
		  struct ext2_inode *inode, struct hull_err *err)
{
	int links = 0;
	int r = resolve(fs, EXT2_ROOT_INO, path, &links, ino, err);
	if (r < 0)
		return r;
	errcode_t e = ext2fs_read_inode(fs, *ino, inode);
	if (e)
		return ext_err(err, e, path);
	return 0;
}

/* Looks path up as given, then with /boot removed or added (a separate
 * /boot partition holds /vmlinuz-* where the root holds /boot/vmlinuz-*).
 * Only regular files count. */
static int lookup_file(ext2_filsys fs, const char *path, ext2_ino_t *ino,
		       struct ext2_inode *inode, struct hull_err *err)
{
	_cleanup_free_ char *alt = NULL;
	if (!strncmp(path, "/boot/", 6))
		alt = xstrdup(path + 5);
	else if (path[0] == '/')
		alt = xasprintf("/boot%s", path);
	const char *tries[] = {path, alt};
	for (size_t i = 0; i < 2 && tries[i]; i++) {
		struct hull_err e2;
		if (lookup(fs, tries[i], ino, inode, &e2) == 0 &&
		    LINUX_S_ISREG(inode->i_mode))
			return 0;
	}
	return hull_err_set(err, ENOENT, "%s: not found", path);
}

/* Copies a file's bytes to fd (or reads them into *buf when fd < 0). */
static int read_ino(ext2_filsys fs, ext2_ino_t ino, uint64_t size, int fd,
		    char *buf, const char *what, struct hull_err *err)
{
	ext2_file_t f;
	errcode_t e = ext2fs_file_open(fs, ino, 0, &f);
	if (e)
		return ext_err(err, e, what);
	_cleanup_free_ char *chunk = fd >= 0 ? xmalloc(CHUNK) : NULL;
	uint64_t done = 0;
	int r = 0;
	while (done < size) {
		unsigned want =
		    size - done > CHUNK ? CHUNK : (unsigned)(size - done);
		unsigned got = 0;
		char *dst = fd >= 0 ? chunk : buf + done;
		e = ext2fs_file_read(f, dst, want, &got);
		if (e) {
			r = ext_err(err, e, what);
			break;
		}
		if (!got) {
			r = hull_err_set(err, EIO, "%s: short file", what);
			break;
		}
		if (fd >= 0) {
			for (unsigned off = 0; off < got;) {
				ssize_t w = write(fd, chunk + off, got - off);
				if (w < 0) {
					if (errno == EINTR)
						continue;
					r = hull_err_sys(err, errno, "write %s",
							 what);
					goto out;
				}
				off += (unsigned)w;
			}
		}
		done += got;
	}
out:
	ext2fs_file_close(f);
	return r;
}

/* Where the filesystem lies: the disk file, open, and the partition. */
struct src {
	int fd;
	uint64_t offset, size;
	dev_t dev; /* the disk file's identity, for the copies' stamp */
	ino_t ino;
};

/* Copies a file's bytes to out_fd (at its current position) straight
 * from the disk, one run of physically contiguous blocks at a time with
 * copy_file_range (which reflinks on btrfs), holes and unwritten extents
 * left as holes: many times faster than ext2fs_file_read's
 * block-at-a-time path for a kernel and an initrd. -ENOTSUP, with
 * out_fd's position put back, for what it does not map plainly (inline
 * or encrypted data, a disk where copy_file_range does not work); the
 * caller then reads through libext2fs. */
static int copy_mapped(ext2_filsys fs, const struct src *src, ext2_ino_t ino,
		       struct ext2_inode *inode, uint64_t size, int out_fd,
		       const char *what, struct hull_err *err)
{
	if (inode->i_flags & (EXT4_INLINE_DATA_FL | EXT4_ENCRYPT_FL))
		return -ENOTSUP;
	off_t start_pos = lseek(out_fd, 0, SEEK_CUR);
	if (start_pos < 0)
		return -ENOTSUP;
	uint64_t bs = fs->blocksize;
	blk64_t nblocks = (size + bs - 1) / bs;
	/* Runs of contiguous blocks (phys 0: a hole); few with extents. */
	struct run {
		blk64_t logical, phys, count;
	} *runs = NULL;
	size_t nruns = 0;
	int r = 0;
	for (blk64_t lb = 0; lb < nblocks; lb++) {
		blk64_t pb = 0;
		int flags = 0;
		if (ext2fs_bmap2(fs, ino, inode, NULL, 0, lb, &flags, &pb)) {
			r = -ENOTSUP;
			goto out;
		}
		if (flags & BMAP_RET_UNINIT)
			pb = 0; /* reads as zeros */
		struct run *last = nruns ? &runs[nruns - 1] : NULL;
		if (last &&
		    ((pb == 0 && last->phys == 0) ||
		     (pb && last->phys && last->phys + last->count == pb)))
			last->count++;
		else {
			runs = xrealloc(runs, (nruns + 1) * sizeof(*runs));
			runs[nruns++] = (struct run){lb, pb, 1};
		}
	}
	bool copied = false;
	for (size_t i = 0; i < nruns; i++) {
		uint64_t start = runs[i].phys * bs;
		uint64_t len = runs[i].count * bs;
		if (runs[i].logical * bs + len > size)
			len = size - runs[i].logical * bs;
		if (!runs[i].phys) {
			if (lseek(out_fd, (off_t)len, SEEK_CUR) < 0) {
				r = hull_err_sys(err, errno, "write %s", what);
				goto out;
			}
			continue;
		}
		/* A hostile filesystem may point anywhere: stay inside the
		 * partition. */
		if (start > src->size || len > src->size - start) {
			r = hull_err_set(err, EINVAL,
					 "%s: blocks outside the filesystem",
					 what);
			goto out;
		}
		loff_t off = (loff_t)(src->offset + start);
		while (len) {
			ssize_t n = copy_file_range(src->fd, &off, out_fd, NULL,
						    len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && !copied &&
			    (errno == EXDEV || errno == EINVAL ||
			     errno == ENOSYS || errno == EOPNOTSUPP)) {
				r = -ENOTSUP;
				goto out;
			}
			if (n < 0) {
				r = hull_err_sys(err, errno, "copy %s", what);
				goto out;
			}
			if (n == 0) {
				r = hull_err_set(err, EIO, "%s: short file",
						 what);
				goto out;
			}
			copied = true;
			len -= (uint64_t)n;
		}
	}
	/* A file that ends in a hole: make the size right. */
	off_t end = lseek(out_fd, 0, SEEK_CUR);
	if (end < 0 || ftruncate(out_fd, end) < 0)
		r = hull_err_sys(err, errno, "write %s", what);
out:
	if (r == -ENOTSUP && (lseek(out_fd, start_pos, SEEK_SET) < 0 ||
			      ftruncate(out_fd, start_pos) < 0))
		r = hull_err_sys(err, errno, "write %s", what);
	free(runs);
	return r;
}

/* Reads a small text file; -ENOENT when it is not there. */
static int read_text(ext2_filsys fs, const char *path, size_t max, char **out,
		     size_t *len, struct hull_err *err)
{
	ext2_ino_t ino;
	struct ext2_inode inode;
	int r = lookup(fs, path, &ino, &inode, err);
	if (r < 0)
		return r;
	if (!LINUX_S_ISREG(inode.i_mode))
		return hull_err_set(err, ENOENT, "%s: not a file", path);
	uint64_t size = EXT2_I_SIZE(&inode);
	if (size > max)
		return hull_err_set(err, EFBIG, "%s: over %zu bytes", path,
				    max);
	char *buf = xmalloc(size + 1);
	r = read_ino(fs, ino, size, -1, buf, path, err);
	if (r < 0) {
		free(buf);
		return r;
	}
	buf[size] = '\0';
	*out = buf;
	*len = size;
	return 0;
}

struct names {
	char **v;
	size_t n;
	bool overflow;
};

static void names_free(struct names *nm)
{
	for (size_t i = 0; i < nm->n; i++)
		free(nm->v[i]);
	free(nm->v);
	memset(nm, 0, sizeof(*nm));
}

static int dir_cb(ext2_ino_t dir, int entry, struct ext2_dir_entry *d,
		  int offset, int blocksize, char *buf, void *priv)
{
	struct names *nm = priv;
	int l = ext2fs_dirent_name_len(d);
	if ((l == 1 && d->name[0] == '.') ||
	    (l == 2 && d->name[0] == '.' && d->name[1] == '.'))
		return 0;
	if (nm->n >= DIR_NAMES_MAX) {
		nm->overflow = true;
		return DIRENT_ABORT;
	}
	if (memchr(d->name, '\0', (size_t)l) || memchr(d->name, '/', (size_t)l))
		return 0;
	nm->v = xrealloc(nm->v, (nm->n + 1) * sizeof(*nm->v));
	nm->v[nm->n++] = xstrndup(d->name, (size_t)l);
	return 0;
}

/* The names in directory path; -ENOENT when there is none. */
static int list_dir(ext2_filsys fs, const char *path, struct names *nm,
		    struct hull_err *err)
{
	ext2_ino_t ino;
	struct ext2_inode inode;
	int r = lookup(fs, path, &ino, &inode, err);
	if (r < 0)
		return r;
	if ((r = dir_check(fs, ino, &inode, path, err)) < 0)
		return r;
	errcode_t e = ext2fs_dir_iterate2(fs, ino, 0, NULL, dir_cb, nm);
	if (nm->overflow)
		return hull_err_set(err, EFBIG, "%s: more than %d names", path,
				    DIR_NAMES_MAX);
	if (e)
		return ext_err(err, e, path);
	return 0;
}

static int try_grub(ext2_filsys fs, struct hvm_bootent *ent,
		    struct hull_err *err)
{
	static const char *const paths[] = {
	    "/boot/grub/grub.cfg", "/boot/grub2/grub.cfg", "/grub/grub.cfg",
	    "/grub2/grub.cfg"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		_cleanup_free_ char *text = NULL;
		size_t len;
		int r = read_text(fs, paths[i], HVM_BOOTCFG_TEXT_MAX, &text,
				  &len, err);
		if (r == -ENOENT)
			continue;
		if (r == 0)
			r = hvm_grub_parse(text, len, ent, err);
		if (r == -ENOENT)
			continue; /* e.g. a grub.cfg that only runs blscfg */
		if (r < 0)
			return hull_err_prefix(err, "%s", paths[i]);
		return 0;
	}
	return -ENOENT;
}

static int try_bls(ext2_filsys fs, struct hvm_bootent *ent,
		   struct hull_err *err)
{
	static const char *const dirs[] = {"/boot/loader/entries",
					   "/loader/entries"};
	for (size_t d = 0; d < 2; d++) {
		struct names nm = {0};
		int r = list_dir(fs, dirs[d], &nm, err);
		if (r == -ENOENT)
			continue;
		if (r < 0)
			return r;
		size_t cap = nm.n < HVM_BOOTCFG_ENTRIES_MAX
				 ? nm.n
				 : HVM_BOOTCFG_ENTRIES_MAX;
		struct hvm_bootent *ents = xcalloc(cap + 1, sizeof(*ents));
		char **names = xcalloc(cap + 1, sizeof(*names));
		char **vers = xcalloc(cap + 1, sizeof(*vers));
		size_t k = 0;
		for (size_t i = 0; i < nm.n && r == 0; i++) {
			size_t l = strlen(nm.v[i]);
			if (l < 6 || strcmp(nm.v[i] + l - 5, ".conf"))
				continue;
			if (k >= cap) {
				r = hull_err_set(
				    err, EFBIG, "%s: more than %d entries",
				    dirs[d], HVM_BOOTCFG_ENTRIES_MAX);
				break;
			}
			_cleanup_free_ char *path =
			    xasprintf("%s/%s", dirs[d], nm.v[i]);
			_cleanup_free_ char *text = NULL;
			size_t len;
			r = read_text(fs, path, HVM_BOOTCFG_TEXT_MAX, &text,
				      &len, err);
			if (r == 0)
				r = hvm_bls_parse(text, len, &ents[k], &vers[k],
						  err);
			if (r == -ENOENT) {
				r = 0; /* an entry without a kernel */
				continue;
			}
			if (r < 0) {
				hull_err_prefix(err, "%s", path);
				break;
			}
			names[k++] = nm.v[i];
		}
		if (r == 0 && k) {
			size_t pick = hvm_bls_pick(names, vers, k);
			*ent = ents[pick];
			memset(&ents[pick], 0, sizeof(ents[pick]));
		}
		for (size_t i = 0; i < k; i++) {
			hvm_bootent_fini(&ents[i]);
			free(vers[i]);
		}
		free(ents);
		free(names);
		free(vers);
		names_free(&nm);
		if (r < 0)
			return r;
		if (k)
			return 0;
	}
	return -ENOENT;
}

static int try_newest(ext2_filsys fs, struct hvm_bootent *ent,
		      struct hull_err *err)
{
	struct names nm = {0};
	int r = list_dir(fs, "/boot", &nm, err);
	if (r == -ENOENT) {
		names_free(&nm);
		r = list_dir(fs, "/", &nm, err);
	}
	if (r == 0)
		r = hvm_boot_newest(nm.v, nm.n, ent, err);
	names_free(&nm);
	return r;
}

/* What the copies in dir were made from: the disk file, the partition,
 * and each source file's inode, generation, size and times. A restart
 * whose stamp matches reuses the copies instead of copying 20-odd MiB
 * again. The guest can change these fields only by changing its own
 * files, so a forged match can only make it boot its own older kernel. */
static char *stamp_make(ext2_filsys fs, const struct src *srcd,
			const struct hvm_bootent *e, uint64_t *ksize,
			uint64_t *isize, struct hull_err *err)
{
	char *st =
	    xasprintf("hull boot stamp 1\ndisk %ju %ju %" PRIu64 "\n",
		      (uintmax_t)srcd->dev, (uintmax_t)srcd->ino, srcd->offset);
	*ksize = *isize = 0;
	for (size_t i = 0; i < 1 + e->ninitrd; i++) {
		const char *path = i == 0 ? e->kernel : e->initrd[i - 1];
		ext2_ino_t ino;
		struct ext2_inode inode;
		struct ext2_inode_large big;
		if (lookup_file(fs, path, &ino, &inode, err) < 0) {
			free(st);
			return NULL;
		}
		memset(&big, 0, sizeof(big));
		if (ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)&big,
					   sizeof(big)))
			memcpy(&big, &inode, sizeof(inode));
		uint64_t size = EXT2_I_SIZE(&inode);
		*(i == 0 ? ksize : isize) += size;
		char *next = xasprintf("%s%s %u %u %" PRIu64 " %u.%u %u.%u\n",
				       st, path, ino, big.i_generation, size,
				       big.i_mtime, big.i_mtime_extra,
				       big.i_ctime, big.i_ctime_extra);
		free(st);
		st = next;
	}
	return st;
}

/* Writes one file's bytes (several files concatenated) to fd. */
static int copy_files(ext2_filsys fs, const struct src *srcd,
		      char *const *files, size_t nfiles, uint64_t budget,
		      const char *name, int fd, struct hull_err *err)
{
	int r = 0;
	for (size_t i = 0; i < nfiles && r == 0; i++) {
		const char *src = files[i];
		ext2_ino_t ino;
		struct ext2_inode inode;
		r = lookup_file(fs, src, &ino, &inode, err);
		if (r < 0)
			break;
		uint64_t size = EXT2_I_SIZE(&inode);
		if (size > budget)
			return hull_err_set(err, EFBIG,
					    "%s: %s over %" PRIu64 " MiB", src,
					    name, budget >> 20);
		budget -= size;
		r = copy_mapped(fs, srcd, ino, &inode, size, fd, src, err);
		if (r == -ENOTSUP)
			r = read_ino(fs, ino, size, fd, NULL, src, err);
	}
	return r;
}

static int extract(ext2_filsys fs, const struct src *srcd,
		   struct hvm_boot_copy *cp, struct hvm_boot *b,
		   struct hull_err *err)
{
	const struct hvm_bootent *e = &b->ent;
	uint64_t ksize, isize;
	char *stamp = stamp_make(fs, srcd, e, &ksize, &isize, err);
	if (!stamp)
		return -err->code;
	cp->stamp = stamp;
	cp->kernel_size = ksize;
	cp->initrd_size = e->ninitrd ? isize : 0;
	/* The copies in place were made from these very files. */
	if (cp->old_stamp && !strcmp(cp->old_stamp, stamp) &&
	    cp->have_kernel == (int64_t)ksize &&
	    cp->have_initrd == (e->ninitrd ? (int64_t)isize : -1)) {
		cp->reused = true;
		return 0;
	}
	int r = copy_files(fs, srcd, (char *const *)&e->kernel, 1,
			   HVM_BOOT_KERNEL_MAX, "kernel", cp->kernel_fd, err);
	if (r == 0 && e->ninitrd)
		r = copy_files(fs, srcd, e->initrd, e->ninitrd,
			       HVM_BOOT_INITRD_MAX, "initrd", cp->initrd_fd,
			       err);
	return r;
}

/* Applies the three rules to one filesystem; -ENOENT: nothing here. */
static int try_fs(ext2_filsys fs, struct hvm_bootent *ent, struct hull_err *err)
{
	int r = try_grub(fs, ent, err);
	if (r == -ENOENT)
		r = try_bls(fs, ent, err);
	if (r == -ENOENT)
		r = try_newest(fs, ent, err);
	if (r < 0)
		return r;
	/* The configuration named it; it must be there. */
	ext2_ino_t ino;
	struct ext2_inode inode;
	const char *what = hvm_boot_source_name(ent->source);
	r = lookup_file(fs, ent->kernel, &ino, &inode, err);
	for (size_t i = 0; r == 0 && i < ent->ninitrd; i++)
		r = lookup_file(fs, ent->initrd[i], &ino, &inode, err);
	if (r < 0) {
		hvm_bootent_fini(ent);
		/* Not -ENOENT: the disk says what to boot and it is missing,
		 * which is not "no kernel on this filesystem". */
		hull_err_prefix(err, "%s names a file that is not there", what);
		return -EINVAL;
	}
	return 0;
}

int hvm_boot_ext2fs_load(struct hull_err *err)
{
	if (!hull_ext2fs_unixfd_io_manager())
		return hull_err_set(err, ENOENT, "cannot load libext2fs.so.2");
	pthread_once(&et_once, et_init);
	error_message(0); /* libcom_err's, resolved now */
	return 0;
}

int hvm_boot_scan(int fd, const char *disk, struct hvm_boot_copy *cp,
		  struct hvm_boot *out, struct hull_err *err)
{
	memset(out, 0, sizeof(*out));
	/* libext2fs is loaded here, on first use (src/lib/dl.h) */
	io_manager unixfd = hull_ext2fs_unixfd_io_manager();
	if (!unixfd)
		return hull_err_set(err, ENOENT,
				    "%s: cannot load libext2fs.so.2", disk);
	pthread_once(&et_once, et_init);
	struct stat st;
	uint64_t disk_size = 0;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		disk_size = (uint64_t)st.st_size;
	else if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);
		disk_size = end > 0 ? (uint64_t)end : 0;
	} else {
		return hull_err_set(
		    err, EINVAL, "%s: not a disk file or block device", disk);
	}
	_cleanup_free_ uint8_t *head = xcalloc(1, HVM_PARTTAB_READ);
	ssize_t got = pread(fd, head, HVM_PARTTAB_READ, 0);
	if (got < 0)
		return hull_err_sys(err, errno, "read %s", disk);
	struct hvm_part parts[HVM_PART_MAX];
	size_t nparts;
	enum hvm_parttab_kind kind;
	int r = hvm_parttab_parse(head, (size_t)got, disk_size, parts, &nparts,
				  &kind, err);
	if (r < 0)
		return hull_err_prefix(err, "%s", disk);
	if (kind == HVM_PARTTAB_NONE) {
		parts[0] = (struct hvm_part){
		    .index = 0, .offset = 0, .size = disk_size};
		nparts = 1;
	}
	unsigned nfs = 0;
	for (size_t i = 0; i < nparts; i++) {
		char opts[48], name[16];
		snprintf(opts, sizeof(opts), "offset=%" PRIu64,
			 parts[i].offset);
		/* unixfd (libext2fs's unixfd_io_manager) closes what it opened:
		 * a copy each time, so nothing here opens a path */
		int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (dfd < 0)
			return hull_err_sys(err, errno, "%s", disk);
		snprintf(name, sizeof(name), "%d", dfd);
		ext2_filsys fs;
		errcode_t e = ext2fs_open2(name, opts, EXT2_FLAG_64BITS, 0, 0,
					   unixfd, &fs);
		if (e) {
			close(dfd);
			continue; /* not ext2/3/4: swap, EFI, BIOS boot... */
		}
		nfs++;
		r = try_fs(fs, &out->ent, err);
		if (r == 0) {
			out->partition = parts[i].index;
			struct src sd = {.fd = fd,
					 .offset = parts[i].offset,
					 .size = parts[i].size,
					 .dev = st.st_dev,
					 .ino = st.st_ino};
			if (cp)
				r = extract(fs, &sd, cp, out, err);
		}
		ext2fs_close_free(&fs);
		if (r == -ENOENT)
			continue;
		if (r < 0) {
			hvm_boot_fini(out);
			if (parts[i].index)
				return hull_err_prefix(err, "%s partition %u",
						       disk, parts[i].index);
			return hull_err_prefix(err, "%s", disk);
		}
		return 0;
	}
	if (!nfs)
		return hull_err_set(err, ENOENT,
				    "%s: no ext2/3/4 filesystem to boot from",
				    disk);
	return hull_err_set(err, ENOENT,
			    "%s: no kernel found (no grub.cfg entry, no BLS "
			    "entry, no /boot/vmlinuz-*)",
			    disk);
}
