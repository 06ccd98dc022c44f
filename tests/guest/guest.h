/*
 * guest.h - the freestanding test guest's helpers: port and MMIO access,
 * COM1 output, PCI and virtio. The guest runs in long mode with the first
 * 4 GiB identity-mapped, so a guest-physical address is a pointer.
 */
#ifndef HULL_GUEST_H
#define HULL_GUEST_H

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;
typedef unsigned long size_t;
typedef unsigned long uptr;

/* a guest-physical address as a pointer (identity-mapped) */
#define PTR(a) ((void *)(uptr)(a))

static inline void outb(u16 port, u8 v)
{
	__asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outw(u16 port, u16 v)
{
	__asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
static inline void outl(u16 port, u32 v)
{
	__asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
static inline u8 inb(u16 port)
{
	u8 v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u16 inw(u16 port)
{
	u16 v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u32 inl(u16 port)
{
	u32 v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline u32 mmio_read32(u64 addr)
{
	return *(volatile u32 *)PTR(addr);
}
static inline void mmio_write32(u64 addr, u32 v)
{
	*(volatile u32 *)PTR(addr) = v;
}
static inline u16 mmio_read16(u64 addr)
{
	return *(volatile u16 *)PTR(addr);
}
static inline void mmio_write16(u64 addr, u16 v)
{
	*(volatile u16 *)PTR(addr) = v;
}
static inline u8 mmio_read8(u64 addr)
{
	return *(volatile u8 *)PTR(addr);
}
static inline void mmio_write8(u64 addr, u8 v)
{
	*(volatile u8 *)PTR(addr) = v;
}
static inline void barrier(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

void print(const char *fmt, ...);
/* A string on COM1 without print's lock: for handlers that may interrupt
 * a print (an NMI), where taking the lock would wait forever. */
void print_nolock(const char *s);
void poweroff(void) __attribute__((noreturn));

/* PCI and virtio (virtio.c) */
u32 pci_read32(u32 bdf, u32 off);
void pci_write32(u32 bdf, u32 off, u32 v);
u16 pci_read16(u32 bdf, u32 off);
void pci_write16(u32 bdf, u32 off, u16 v);
u8 pci_read8(u32 bdf, u32 off);
int test_virtio_blk(const char *args);
int test_virtio_rng(void);
int test_virtio_net(void);
int net_echo_init(void);
void net_echo_poll(void);
int blk_count_init(void);
int blk_count_step(u32 value);
int test_virtio_console(void);
int test_virtio_blk_bench(void);

/* a tiny bump allocator over the RAM after the image */
void *alloc_pages(u32 bytes);

extern volatile u32 irq_count[8];
/* INTx test: the ISR register the level-triggered handler reads */
extern volatile u64 intx_isr_addr;
void ioapic_route_level(u32 pin, u32 vector);

#endif
