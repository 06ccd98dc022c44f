/*
 * entry.S - the test guest's entry points. The VMM enters in 32-bit
 * protected mode with paging off:
 *   bz_start   the Linux boot protocol's 32-bit entry (code32_start,
 *              the first byte of the image at 1 MiB), ESI = zero page
 *   pvh_start  the PVH entry named by the Xen ELF note, EBX = start_info
 * Both switch to long mode at once (identity map of 4 GiB with 2 MiB
 * pages) and call guest_main(kind, info) in 64-bit C. Long mode rather
 * than 32-bit paging because this host's nested KVM emulates unpaged code
 * (its emulator lacks IRET) and refuses PAE's PDPTE load; long mode is
 * what Linux uses and runs natively. Application processors arrive at the
 * real-mode trampoline the BSP copies to 0x8000 (SIPI vector 8) and take
 * the same path to ap_main(apic_id).
 */
#define CODE32 0x10
#define DATA 0x18
#define CODE64 0x20

	.section .note.Xen, "a", @note
	.p2align 2
	.long 4                 /* name size */
	.long 4                 /* desc size */
	.long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_start

	.section .text.entry, "ax"
	.code32
	.globl bz_start
bz_start:
	/* the boot timer: the first guest instruction writes port 0x440 */
	movw $0x440, %dx
	movb $1, %al
	outb %al, %dx
	movl %esi, %ebx
	movl $1, %ebp           /* boot kind: bzImage */
	jmp common

	.globl pvh_start
pvh_start:
	movw $0x440, %dx
	movb $1, %al
	outb %al, %dx
	movl $2, %ebp           /* boot kind: PVH */

common:
	cli
	lgdt gdt_desc
	ljmp $CODE32, $1f
1:	movw $DATA, %cx
	movw %cx, %ds
	movw %cx, %es
	movw %cx, %ss
	movw %cx, %fs
	movw %cx, %gs
	movl $bsp_stack_top, %esp
	call long_mode_on
	ljmp $CODE64, $bsp64

/* PAE, the PML4, EFER.LME, then paging: long mode (compatibility until a
 * 64-bit code segment is loaded). */
long_mode_on:
	movl %cr4, %eax
	orl $0x20, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000000, %eax
	movl %eax, %cr0
	ret

	.globl ap_start32
ap_start32:
	movw $DATA, %cx
	movw %cx, %ds
	movw %cx, %es
	movw %cx, %ss
	movw %cx, %fs
	movw %cx, %gs
	movl $ap_boot_stack, %esp  /* used only by the call below */
	call long_mode_on
	ljmp $CODE64, $ap64

	.code64
bsp64:
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	shrq $3, %rcx
	xorl %eax, %eax
	rep stosq
	movl %ebp, %edi
	movl %ebx, %esi
	call guest_main
5:	cli
	hlt
	jmp 5b

ap64:
	/* own stack by local APIC ID: ap_stacks + (id + 1) * 4096 */
	movl 0xfee00020, %eax
	shrl $24, %eax
	movl %eax, %edi
	incl %eax
	shll $12, %eax
	addq $ap_stacks, %rax
	movq %rax, %rsp
	call ap_main
6:	cli
	hlt
	jmp 6b

/* Real-mode trampoline, copied to 0x8000; position-independent by using
 * offsets from its start. */
	.globl ap_tramp, ap_tramp_end
	.code16
ap_tramp:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl 0x8000 + (ap_gdt_desc - ap_tramp)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $CODE32, $ap_start32
	.p2align 2
ap_gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt
ap_tramp_end:

	.code64
/* Interrupt stubs: the caller-saved registers around a call of the C
 * handler fn with vec as its argument (guest_nmi ignores it). */
	.macro stub name, fn, vec
	.globl \name
\name:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	movl $\vec, %edi
	call \fn
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rax
	iretq
	.endm
	.macro isr vec
	stub isr_\vec, guest_irq, \vec
	.endm
	isr 0x40
	isr 0x41
	isr 0x42
	isr 0x43
	isr 0x44
	isr 0x45

	/* CPU exceptions: report the vector and stop */
	.macro exc vec, has_err
	.globl exc_\vec
exc_\vec:
	.if \has_err == 0
	pushq $0
	.endif
	movl $\vec, %edi
	movq (%rsp), %rsi       /* error code */
	movq 8(%rsp), %rdx      /* faulting rip */
	call guest_fault
	.endm
	exc 0, 0
	exc 6, 0
	exc 8, 1
	exc 13, 1
	exc 14, 1

	/* NMI (vector 2): the C handler reports it on COM1 */
	stub isr_nmi, guest_nmi, 2

	.globl isr_spurious
isr_spurious:
	iretq

	.section .rodata
	.p2align 3
gdt:
	.quad 0
	.quad 0
	.quad 0x00cf9b000000ffff        /* 0x10 code, 32-bit */
	.quad 0x00cf93000000ffff        /* 0x18 data */
	.quad 0x00af9b000000ffff        /* 0x20 code, 64-bit */
gdt_end:
gdt_desc:
	.word gdt_end - gdt - 1
	.long gdt

	/* The page tables are data in the image, built by the assembler:
	 * this host's KVM (kvm_pvm) emulates much of a guest's code one
	 * instruction at a time, so filling 2048 entries at run time cost
	 * about 10 ms a boot. An
	 * identity map of 4 GiB with 2 MiB pages; the top GiB (PCI, IOAPIC,
	 * LAPIC) uncached. */
	.section .data.pagetables, "aw"
	.p2align 12
pml4:
	.quad pdpt + 3
	.fill 511, 8, 0
pdpt:
	.quad page_dirs + 0x0003, page_dirs + 0x1003
	.quad page_dirs + 0x2003, page_dirs + 0x3003
	.fill 508, 8, 0
page_dirs:
	.set pde, 0
	.rept 2048
	.if pde < 1536
	.quad (pde << 21) | 0x83        /* present, writable, 2 MiB */
	.else
	.quad (pde << 21) | 0x9b        /* and PCD | PWT */
	.endif
	.set pde, pde + 1
	.endr

	.section .bss
	.p2align 6
	.skip 64
ap_boot_stack:
	.p2align 12
	.globl ap_stacks
ap_stacks:
	.skip 4096 * 64
	.skip 16384
bsp_stack_top:

	.section .note.GNU-stack, "", @progbits
