/*
 * bzhdr.S - a minimal Linux boot-protocol header so the same guest is also
 * a "bzImage": one setup sector after the boot sector, then the 32-bit code
 * that bz.ld places at file offset 0x400 and guest address 1 MiB.
 */
	.section .bzhdr, "a"
	.code16
	.org 0x1f1
	.byte 1                         /* setup_sects */
	.word 0                         /* root_flags */
	.long __bz_syssize              /* syssize, 16-byte units */
	.word 0                         /* ram_size */
	.word 0xffff                    /* vid_mode */
	.word 0                         /* root_dev */
	.word 0xaa55                    /* boot_flag */
	.byte 0xeb, 0x66                /* jump; header ends at 0x268 */
	.ascii "HdrS"
	.word 0x020f                    /* protocol 2.15 */
	.long 0                         /* realmode_swtch */
	.word 0                         /* start_sys_seg */
	.word 0                         /* kernel_version */
	.byte 0                         /* type_of_loader */
	.byte 0x01                      /* loadflags: LOADED_HIGH */
	.word 0                         /* setup_move_size */
	.long 0x100000                  /* code32_start */
	.long 0                         /* ramdisk_image */
	.long 0                         /* ramdisk_size */
	.long 0                         /* bootsect_kludge */
	.word 0                         /* heap_end_ptr */
	.byte 0, 0                      /* ext_loader_ver, ext_loader_type */
	.long 0                         /* cmd_line_ptr */
	.long 0x7fffffff                /* initrd_addr_max */
	.long 0x200000                  /* kernel_alignment */
	.byte 0, 0                      /* relocatable_kernel, min_alignment */
	.word 0                         /* xloadflags */
	.long 4095                      /* cmdline_size */
	.long 0                         /* hardware_subarch */
	.quad 0                         /* hardware_subarch_data */
	.long 0, 0                      /* payload_offset, payload_length */
	.quad 0                         /* setup_data */
	.quad 0x100000                  /* pref_address */
	.long __bz_init_size            /* init_size */
	.long 0                         /* handover_offset */
	.long 0                         /* kernel_info_offset */
	.org 0x400

	.section .note.GNU-stack, "", @progbits
