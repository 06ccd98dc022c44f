/*
 * dl_ext2fs.c - libext2fs and libcom_err, loaded on first use (dl.h).
 *
 * Only a VM's boot loader reads ext2/3/4 (src/hvm/bootdisk.c), but linked,
 * the two libraries cost every exec of the supervisor, a zone's included,
 * their relocations (bench/README.md, issue 12's fifth pass).
 * hull_ext2fs_unixfd_io_manager loads libext2fs and returns NULL when it
 * cannot; every other function takes what ext2fs_open2 made with that
 * manager, or explains its error code.
 */
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>

#include "lib/dl.h"

struct hull_dl hull_dl_ext2fs = HULL_DL_INIT("libext2fs.so.2");
static struct hull_dl com_err_dl = HULL_DL_INIT("libcom_err.so.2");
#define L hull_dl_ext2fs

struct struct_io_manager *hull_ext2fs_unixfd_io_manager(void)
{
	static void *slot;
	io_manager *m = hull_dl_try(&L, "unixfd_io_manager", &slot);
	return m ? *m : NULL;
}

char const *error_message(long code)
{
	__typeof__(&error_message) f = HULL_DL_TRY(com_err_dl, error_message);
	return f ? f(code) : "unknown error (libcom_err not loaded)";
}

void initialize_ext2_error_table(void)
{
	HULL_DL_NEED(L, initialize_ext2_error_table)();
}

HULL_DL_FWD1(L, errcode_t, ext2fs_close_free, ext2_filsys *)
HULL_DL_FWD1(L, errcode_t, ext2fs_file_close, ext2_file_t)
HULL_DL_FWD4(L, errcode_t, ext2fs_file_open, ext2_filsys, ext2_ino_t, int,
	     ext2_file_t *)
HULL_DL_FWD4(L, errcode_t, ext2fs_file_read, ext2_file_t, void *, unsigned int,
	     unsigned int *)
HULL_DL_FWD1(L, int, ext2fs_is_fast_symlink, struct ext2_inode *)
HULL_DL_FWD3(L, errcode_t, ext2fs_read_inode, ext2_filsys, ext2_ino_t,
	     struct ext2_inode *)
HULL_DL_FWD4(L, errcode_t, ext2fs_read_inode_full, ext2_filsys, ext2_ino_t,
	     struct ext2_inode *, int)

errcode_t ext2fs_lookup(ext2_filsys fs, ext2_ino_t dir, const char *name,
			int namelen, char *buf, ext2_ino_t *inode)
{
	return HULL_DL_NEED(L, ext2fs_lookup)(fs, dir, name, namelen, buf,
					      inode);
}

errcode_t ext2fs_open2(const char *name, const char *io_options, int flags,
		       int superblock, unsigned int block_size,
		       io_manager manager, ext2_filsys *ret_fs)
{
	return HULL_DL_NEED(L, ext2fs_open2)(
	    name, io_options, flags, superblock, block_size, manager, ret_fs);
}

errcode_t ext2fs_bmap2(ext2_filsys fs, ext2_ino_t ino, struct ext2_inode *inode,
		       char *block_buf, int bmap_flags, blk64_t block,
		       int *ret_flags, blk64_t *phys_blk)
{
	return HULL_DL_NEED(L, ext2fs_bmap2)(
	    fs, ino, inode, block_buf, bmap_flags, block, ret_flags, phys_blk);
}

errcode_t ext2fs_block_iterate3(
    ext2_filsys fs, ext2_ino_t ino, int flags, char *block_buf,
    int (*func)(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt,
		blk64_t ref_blk, int ref_offset, void *priv_data),
    void *priv_data)
{
	return HULL_DL_NEED(L, ext2fs_block_iterate3)(fs, ino, flags, block_buf,
						      func, priv_data);
}

errcode_t ext2fs_dir_iterate2(
    ext2_filsys fs, ext2_ino_t dir, int flags, char *block_buf,
    int (*func)(ext2_ino_t dir, int entry, struct ext2_dir_entry *dirent,
		int offset, int blocksize, char *buf, void *priv_data),
    void *priv_data)
{
	return HULL_DL_NEED(L, ext2fs_dir_iterate2)(fs, dir, flags, block_buf,
						    func, priv_data);
}
