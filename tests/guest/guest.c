/*
 * guest.c - hull-vmm's freestanding test guest. The command line picks one
 * test ("test=NAME"); every run first prints the boot information it was
 * given, then "hull-guest: ready", then the test's lines and
 * "hull-guest: PASS NAME" or "hull-guest: FAIL NAME: why", and powers off
 * (except the reboot test). The host side (tests/integration/test_vmm_*.py)
 * reads COM1 and checks the lines.
 */
#include "guest.h"

#define LAPIC 0xfee00000u
#define IOAPIC 0xfec00000u

struct idt_entry {
	u16 off_lo, sel;
	u8 ist, flags;
	u16 off_mid;
	u32 off_hi, reserved;
} __attribute__((packed));

static struct idt_entry idt[256];
static struct {
	u16 limit;
	u64 base;
} __attribute__((packed)) idt_desc;

volatile u32 irq_count[8];
volatile u64 intx_isr_addr;
static volatile u16 sci_evt_port; /* PM1a_EVT while waiting for the SCI */
static volatile u16 sci_sts_seen;
static char cmdline[512];
static volatile u32 ap_checked_in;
static volatile u32 ap_seen[64];
static char serial_line[64];
static volatile u8 kbd_codes[16];
static volatile u32 kbd_n;
static volatile u32 serial_len;
static volatile u32 nmi_count;
static u32 heap_next = 0x1000000; /* 16 MiB: above the image */

extern char ap_tramp[], ap_tramp_end[];
extern void isr_0x40(void), isr_0x41(void), isr_0x42(void), isr_0x43(void),
    isr_0x44(void), isr_0x45(void), isr_spurious(void), isr_nmi(void);

void guest_main(u32 kind, u32 info);
void early_idt(void);
void ap_main(u32 id);
void guest_irq(u32 vec);
void guest_nmi(void);

void *alloc_pages(u32 bytes)
{
	u32 p = heap_next;
	heap_next += (bytes + 4095) & ~4095u;
	memset(PTR(p), 0, bytes);
	return PTR(p);
}

static void lapic_write(u32 reg, u32 v)
{
	mmio_write32(LAPIC + reg, v);
}

static void ioapic_route(u32 pin, u32 vector)
{
	mmio_write32(IOAPIC, 0x10 + 2 * pin + 1);
	mmio_write32(IOAPIC + 0x10, 0); /* destination: APIC ID 0 */
	mmio_write32(IOAPIC, 0x10 + 2 * pin);
	mmio_write32(IOAPIC + 0x10, vector); /* fixed, edge, high, unmasked */
}

void ioapic_route_level(u32 pin, u32 vector)
{
	mmio_write32(IOAPIC, 0x10 + 2 * pin + 1);
	mmio_write32(IOAPIC + 0x10, 0);
	mmio_write32(IOAPIC, 0x10 + 2 * pin);
	mmio_write32(IOAPIC + 0x10, vector | (1u << 15)); /* level, high */
}

static void idt_set(u32 vec, void (*fn)(void))
{
	u64 a = (uptr)fn;
	idt[vec] = (struct idt_entry){(u16)a,	      0x20,	      0, 0x8e,
				      (u16)(a >> 16), (u32)(a >> 32), 0};
}

static void idt_init(void)
{
	early_idt();
	idt_set(0x40, isr_0x40);
	idt_set(0x41, isr_0x41);
	idt_set(0x42, isr_0x42);
	idt_set(0x43, isr_0x43);
	idt_set(0x44, isr_0x44);
	idt_set(0x45, isr_0x45);
	/* mask the 8259s: interrupts come through the IOAPIC */
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
	lapic_write(0xf0, 0x1ff); /* software enable, spurious vector 0xff */
}

void guest_fault(u32 vec, u64 code, u64 rip);

void guest_fault(u32 vec, u64 code, u64 rip)
{
	u64 cr2;
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	print("hull-guest: FAIL exception %u code %lx rip %lx cr2 %lx\n", vec,
	      code, rip, cr2);
	poweroff();
}

extern void exc_0(void), exc_6(void), exc_8(void), exc_13(void), exc_14(void);

void early_idt(void)
{
	for (u32 v = 0; v < 256; v++)
		idt_set(v, isr_spurious);
	idt_set(0, exc_0);
	idt_set(6, exc_6);
	idt_set(8, exc_8);
	idt_set(13, exc_13);
	idt_set(14, exc_14);
	idt_set(2, isr_nmi);
	idt_desc.limit = sizeof(idt) - 1;
	idt_desc.base = (uptr)idt;
	__asm__ volatile("lidt %0" ::"m"(idt_desc));
}

void guest_irq(u32 vec)
{
	irq_count[vec - 0x40]++;
	if (vec == 0x41) {
		/* COM1 received data: drain it */
		while (inb(0x3f8 + 5) & 1) {
			char c = (char)inb(0x3f8);
			if (serial_len < sizeof(serial_line) - 1)
				serial_line[serial_len++] = c;
		}
	}
	if (vec == 0x44 && intx_isr_addr)
		(void)mmio_read8(
		    intx_isr_addr); /* acknowledge: the line drops */
	if (vec == 0x44 && sci_evt_port) {
		/* the SCI: clear the PM1 status bits that are set */
		u16 st = inw(sci_evt_port);
		sci_sts_seen |= st;
		outw(sci_evt_port, st);
	}
	if (vec == 0x42) {
		/* i8042 output: keyboard scancodes */
		while (inb(0x64) & 1) {
			u8 c = inb(0x60);
			if (kbd_n < sizeof(kbd_codes))
				kbd_codes[kbd_n++] = c;
		}
	}
	lapic_write(0xb0, 0); /* EOI */
}

/* An NMI (hull-vmm's control socket "nmi", vmadm sysrq): reported on
 * COM1 whatever test runs. Not with print: the NMI may have interrupted
 * a print that holds its lock. */
void guest_nmi(void)
{
	nmi_count++;
	print_nolock("hull-guest: NMI received\n");
}

/* Waits, halted, for an NMI (IF does not mask it). */
static int test_nmi(void)
{
	print("nmi: waiting for an NMI\n");
	while (!nmi_count)
		__asm__ volatile("cli; hlt");
	print("nmi: %u received\n", nmi_count);
	return 0;
}

static const char *arg(const char *key)
{
	size_t kl = strlen(key);
	for (const char *p = cmdline; *p;) {
		while (*p == ' ')
			p++;
		if (!memcmp(p, key, kl) && p[kl] == '=')
			return p + kl + 1;
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}

static int arg_is(const char *key, const char *val)
{
	const char *v = arg(key);
	size_t n = strlen(val);
	return v && !memcmp(v, val, n) && (v[n] == ' ' || v[n] == 0);
}

static void boot_info(u32 kind, u32 info)
{
	const char *cl = 0;
	u64 total = 0;
	u32 n = 0;

	if (kind == 2) {
		u32 *si = PTR(info);
		if (si[0] != 0x336ec578) {
			print(
			    "hull-guest: FAIL boot: bad start_info magic %x\n",
			    si[0]);
			poweroff();
		}
		cl = PTR(*(u64 *)&si[6]);
		u64 mm = *(u64 *)&si[10];
		n = si[12];
		for (u32 i = 0; i < n; i++) {
			u64 *e = PTR(mm + i * 24);
			u32 type = *(u32 *)&e[2];
			print("memmap: %lx-%lx type %u\n", e[0],
			      e[0] + e[1] - 1, type);
			if (type == 1)
				total += e[1];
		}
		print("boot: pvh\n");
	} else {
		u8 *zp = PTR(info);
		cl = PTR(*(u32 *)(zp + 0x228));
		n = zp[0x1e8];
		for (u32 i = 0; i < n; i++) {
			u8 *e = zp + 0x2d0 + i * 20;
			u64 addr = *(u64 *)e, size = *(u64 *)(e + 8);
			u32 type = *(u32 *)(e + 16);
			print("memmap: %lx-%lx type %u\n", addr,
			      addr + size - 1, type);
			if (type == 1)
				total += size;
		}
		print("boot: bzimage\n");
	}
	if (cl) {
		size_t l = strlen(cl);
		if (l >= sizeof(cmdline))
			l = sizeof(cmdline) - 1;
		memcpy(cmdline, cl, l);
		cmdline[l] = 0;
	}
	print("cmdline: %s\n", cmdline);
	print("memory: %lu KiB usable\n", total >> 10);
}

static void sti_hlt(void)
{
	__asm__ volatile("sti; hlt; cli");
}

/* The IOAPIC pin the MP table gives for ISA IRQ irq (irq itself if none). */
static u32 mp_irq_pin(u32 irq)
{
	for (u32 a = 0xf0000; a < 0x100000; a += 16) {
		if (memcmp(PTR(a), "_MP_", 4))
			continue;
		u8 *cfg = PTR(*(u32 *)PTR(a + 4));
		u16 count = *(u16 *)(cfg + 34);
		u8 *e = cfg + 44;
		for (u16 i = 0; i < count; i++) {
			if (e[0] == 0) {
				e += 20;
				continue;
			}
			if (e[0] == 3 && e[1] == 0 && e[4] == 1 && e[5] == irq)
				return e[7];
			e += 8;
		}
	}
	return irq;
}

static int test_timer(void)
{
	lapic_write(0x3e0, 0x3);	       /* divide by 16 */
	lapic_write(0x320, 0x40 | (1u << 17)); /* periodic, vector 0x40 */
	lapic_write(0x380, 200000);
	while (irq_count[0] < 10)
		sti_hlt();
	lapic_write(0x320, 1u << 16); /* masked */
	print("timer: %u interrupts\n", irq_count[0]);

	/* the PIT (ISA IRQ 0) arrives at the IOAPIC pin the MP table names */
	u32 pit_pin = mp_irq_pin(0);
	ioapic_route(pit_pin, 0x45);
	outb(0x43, 0x34);	  /* channel 0, lo/hi, rate generator */
	outb(0x40, 11932 & 0xff); /* 100 Hz */
	outb(0x40, 11932 >> 8);
	for (u32 i = 0; i < 100000000 && irq_count[5] < 5; i++)
		sti_hlt();
	mmio_write32(IOAPIC, 0x10 + 2 * pit_pin);
	mmio_write32(IOAPIC + 0x10, 1u << 16); /* mask it again */
	print("timer: %u PIT interrupts on IOAPIC pin %u\n", irq_count[5],
	      pit_pin);
	return irq_count[5] >= 5 ? 0 : -1;
}

static int test_serial(void)
{
	ioapic_route(4, 0x41);
	outb(0x3f8 + 1, 0x01); /* IER: received data */
	outb(0x3f8 + 4, 0x08); /* MCR: OUT2 */
	print("serial: send a line\n");
	for (;;) {
		__asm__ volatile("cli");
		int done = serial_len && (serial_line[serial_len - 1] == '\n' ||
					  serial_line[serial_len - 1] == '\r');
		if (done)
			break;
		sti_hlt();
	}
	serial_line[serial_len - 1] = 0;
	print("serial: got '%s' in %u interrupts\n", serial_line, irq_count[1]);
	return irq_count[1] ? 0 : -1;
}

static int test_kbd(void)
{
	ioapic_route(1, 0x42);
	outb(0x64, 0x60); /* write the controller configuration byte */
	outb(0x60, 0x01); /* keyboard interrupt on */
	print("kbd: waiting\n");
	for (;;) {
		__asm__ volatile("cli");
		for (u32 i = 2; i < kbd_n; i++)
			if (kbd_codes[i - 2] == 0x1d &&
			    kbd_codes[i - 1] == 0x38 && kbd_codes[i] == 0x53) {
				print("kbd: ctrl-alt-del\n");
				return 0;
			}
		sti_hlt();
	}
}

static int test_com2(void)
{
	char line[64];
	u32 n = 0;
	print("com2: waiting\n");
	for (;;) {
		if (!(inb(0x2f8 + 5) & 1))
			continue;
		char c = (char)inb(0x2f8);
		if (c == '\n' || c == '\r')
			break;
		if (n < sizeof(line) - 1)
			line[n++] = c;
	}
	line[n] = 0;
	for (const char *p = "ok\n"; *p; p++) {
		while (!(inb(0x2f8 + 5) & 0x20))
			;
		outb(0x2f8, (u8)*p);
	}
	print("com2: got '%s'\n", line);
	return 0;
}

static u8 com2_getc(void)
{
	while (!(inb(0x2f8 + 5) & 1))
		;
	return inb(0x2f8);
}

static void com2_putc(u8 c)
{
	while (!(inb(0x2f8 + 5) & 0x20))
		;
	outb(0x2f8, c);
}

/*
 * test=mdget key=K: asks COM2 for metadata key K in the SmartOS
 * protocol's first version ("GET K\n"; the answer "SUCCESS\n", the value
 * with a '.' doubled at the start of a line, "\n.\n"), reads the answer
 * whole, and prints the value's length and FNV-1a hash for the host to
 * compare with what it sent.
 */
#define MDGET_MAX (256u << 10)
static int test_mdget(const char *key)
{
	if (!key) {
		print("mdget: no key=\n");
		return -1;
	}
	for (const char *p = "GET "; *p; p++)
		com2_putc((u8)*p);
	for (const char *p = key; *p && *p != ' '; p++)
		com2_putc((u8)*p);
	com2_putc('\n');
	char status[16];
	u32 sl = 0;
	for (u8 c; (c = com2_getc()) != '\n';)
		if (sl < sizeof(status) - 1)
			status[sl++] = (char)c;
	status[sl] = 0;
	if (sl != 7 || memcmp(status, "SUCCESS", 7)) {
		print("mdget: answer '%s'\n", status);
		return -1;
	}
	u8 *buf = alloc_pages(MDGET_MAX);
	u32 n = 0;
	for (;;) {
		if (n == MDGET_MAX) {
			print("mdget: more than %u bytes\n", MDGET_MAX);
			return -1;
		}
		buf[n++] = com2_getc();
		if (n >= 3 && buf[n - 1] == '\n' && buf[n - 2] == '.' &&
		    buf[n - 3] == '\n')
			break;
	}
	/* the value: without the end marker, a doubled '.' undone */
	u32 hash = 2166136261u, len = 0;
	int line_start = 1;
	for (u32 i = 0; i < n - 3; i++) {
		if (line_start && buf[i] == '.')
			i++; /* its double */
		hash = (hash ^ buf[i]) * 16777619u;
		len++;
		line_start = buf[i] == '\n';
	}
	print("mdget: %u bytes fnv %x\n", len, hash);
	return 0;
}

static const char *smbios_str(u8 *st, u8 idx)
{
	char *s = (char *)st + st[1];
	if (!idx)
		return "";
	while (--idx && *s)
		s += strlen(s) + 1;
	return s;
}

static int test_smbios(void)
{
	for (u32 a = 0xf0000; a < 0x100000; a += 16) {
		u8 *ep = PTR(a);
		if (memcmp(ep, "_SM_", 4))
			continue;
		u8 sum = 0;
		for (u32 i = 0; i < ep[5]; i++)
			sum = (u8)(sum + ep[i]);
		u8 *t = PTR(*(u32 *)(ep + 24));
		u16 n = *(u16 *)(ep + 28);
		print("smbios: %u.%u, %u structures, checksum %s\n", ep[6],
		      ep[7], n, sum ? "bad" : "ok");
		for (u16 i = 0; i < n; i++) {
			if (t[0] == 1) {
				u8 *u = t + 8;
				print("smbios: manufacturer '%s' product '%s' "
				      "serial '%s'\n",
				      smbios_str(t, t[4]), smbios_str(t, t[5]),
				      smbios_str(t, t[7]));
				print("smbios: uuid "
				      "%2x%2x%2x%2x-%2x%2x-%2x%2x-%2x%2x-"
				      "%2x%2x%2x%2x%2x%2x\n",
				      u[3], u[2], u[1], u[0], u[5], u[4], u[7],
				      u[6], u[8], u[9], u[10], u[11], u[12],
				      u[13], u[14], u[15]);
			}
			/* next: past the formatted part and the double NUL */
			u8 *s = t + t[1];
			while (s[0] || s[1])
				s++;
			t = s + 2;
		}
		return sum ? -1 : 0;
	}
	print("smbios: no entry point\n");
	return -1;
}

/* A prompt without a newline, answered by polling COM1: the VMM must
 * deliver a partial line without waiting for the rest. */
static int test_prompt(void)
{
	char line[64];
	u32 n = 0;
	print("login: ");
	for (;;) {
		if (!(inb(0x3f8 + 5) & 1))
			continue;
		char c = (char)inb(0x3f8);
		if (c == '\n' || c == '\r')
			break;
		if (n < sizeof(line) - 1)
			line[n++] = c;
	}
	line[n] = 0;
	print("\nprompt: got '%s'\n", line);
	return 0;
}

static u32 mp_cpu_count(void)
{
	for (u32 a = 0xf0000; a < 0x100000; a += 16) {
		if (memcmp(PTR(a), "_MP_", 4))
			continue;
		u8 *cfg = PTR(*(u32 *)PTR(a + 4));
		u16 count = *(u16 *)(cfg + 34);
		u8 *e = cfg + 44;
		u32 cpus = 0;
		for (u16 i = 0; i < count; i++) {
			if (e[0] == 0) {
				cpus += e[3] & 1;
				e += 20;
			} else {
				e += 8;
			}
		}
		return cpus;
	}
	return 0;
}

void ap_main(u32 id)
{
	print("smp: cpu %u checked in\n", id);
	if (id < 64)
		ap_seen[id] = 1;
	__atomic_add_fetch(&ap_checked_in, 1, __ATOMIC_SEQ_CST);
}

static void delay(u32 n)
{
	for (volatile u32 i = 0; i < n; i++)
		;
}

static u8 acpi_sum(const u8 *p, u32 n)
{
	u8 s = 0;
	while (n--)
		s = (u8)(s + *p++);
	return s;
}

/* A table the XSDT or FADT points to: its signature and checksum checked
 * and printed; 0 when either is wrong. */
static u8 *acpi_table(u64 addr, const char *sig)
{
	u8 *t = PTR(addr);
	u32 len = *(u32 *)(t + 4);
	u8 s = acpi_sum(t, len);
	print("acpi: %c%c%c%c at %lx length %u checksum %s\n", t[0], t[1], t[2],
	      t[3], addr, len, s ? "bad" : "ok");
	if (s || (sig && memcmp(t, sig, 4)))
		return 0;
	return t;
}

/* The value of an AML integer at p (ZeroOp, OneOp, BytePrefix, WordPrefix);
 * advances p. */
static u32 aml_int(const u8 **p)
{
	const u8 *a = *p;
	switch (a[0]) {
	case 0x00:
		*p = a + 1;
		return 0;
	case 0x01:
		*p = a + 1;
		return 1;
	case 0x0a:
		*p = a + 2;
		return a[1];
	case 0x0b:
		*p = a + 3;
		return a[1] | (u32)a[2] << 8;
	}
	*p = a + 1;
	return 0xffffffff;
}

/* Finds the RSDP in the BIOS area, walks the XSDT (and checks the RSDT
 * agrees), checks every table, counts the MADT's local APICs against the
 * MP table, reads \_S5 from the DSDT and powers off through PM1a_CNT the
 * way an ACPI OS does: SLP_TYP | SLP_EN. */
static int test_acpi(int button)
{
	u8 *rsdp = 0;
	for (u32 a = 0xe0000; a < 0x100000 && !rsdp; a += 16)
		if (!memcmp(PTR(a), "RSD PTR ", 8))
			rsdp = PTR(a);
	if (!rsdp) {
		print("acpi: no RSDP\n");
		return -1;
	}
	print("acpi: RSDP at %lx revision %u checksum %s extended %s\n",
	      (u64)(uptr)rsdp, rsdp[15], acpi_sum(rsdp, 20) ? "bad" : "ok",
	      acpi_sum(rsdp, 36) ? "bad" : "ok");
	if (acpi_sum(rsdp, 20) || acpi_sum(rsdp, 36) || rsdp[15] < 2)
		return -1;
	u8 *rsdt = acpi_table(*(u32 *)(rsdp + 16), "RSDT");
	u8 *xsdt = acpi_table(*(u64 *)(rsdp + 24), "XSDT");
	if (!rsdt || !xsdt)
		return -1;
	u32 n = (*(u32 *)(xsdt + 4) - 36) / 8;
	if ((*(u32 *)(rsdt + 4) - 36) / 4 != n) {
		print("acpi: RSDT and XSDT disagree\n");
		return -1;
	}
	u8 *fadt = 0, *madt = 0;
	for (u32 i = 0; i < n; i++) {
		u64 a = *(u64 *)(xsdt + 36 + 8 * i);
		if (*(u32 *)(rsdt + 36 + 4 * i) != a) {
			print("acpi: RSDT entry %u differs\n", i);
			return -1;
		}
		u8 *t = acpi_table(a, 0);
		if (!t)
			return -1;
		if (!memcmp(t, "FACP", 4))
			fadt = t;
		else if (!memcmp(t, "APIC", 4))
			madt = t;
	}
	if (!fadt || !madt) {
		print("acpi: no %s\n", fadt ? "MADT" : "FADT");
		return -1;
	}

	u32 lapics = 0, ioapic_id = 0xff;
	u8 *end = madt + *(u32 *)(madt + 4);
	for (u8 *e = madt + 44; e < end && e[1]; e += e[1]) {
		if (e[0] == 0 && (*(u32 *)(e + 4) & 1))
			lapics++;
		else if (e[0] == 1 && *(u32 *)(e + 4) == IOAPIC)
			ioapic_id = e[2];
		else if (e[0] == 2)
			print("acpi: override IRQ %u -> GSI %u flags %x\n",
			      e[3], *(u32 *)(e + 4), *(u16 *)(e + 8));
	}
	u32 mp = mp_cpu_count();
	print("acpi: MADT %u local APICs (MP table %u), IOAPIC id %u\n", lapics,
	      mp, ioapic_id);
	if (!lapics || lapics != mp || ioapic_id == 0xff)
		return -1;

	u64 dsdt_addr = *(u64 *)(fadt + 140);
	if (!dsdt_addr)
		dsdt_addr = *(u32 *)(fadt + 40);
	u8 *dsdt = acpi_table(dsdt_addr, "DSDT");
	if (!dsdt)
		return -1;
	u64 facs_addr = *(u64 *)(fadt + 132); /* X_FIRMWARE_CTRL */
	if (!facs_addr)
		facs_addr = *(u32 *)(fadt + 36);
	u8 *facs = PTR(facs_addr);
	if (memcmp(facs, "FACS", 4)) {
		print("acpi: no FACS\n");
		return -1;
	}
	/* \_S5: NameOp "_S5_" PackageOp PkgLength NumElements SLP_TYPa ... */
	const u8 *aml = dsdt + 36, *aend = dsdt + *(u32 *)(dsdt + 4);
	u32 typ = 0xffffffff;
	for (; aml + 8 < aend; aml++) {
		if (aml[0] == 0x08 && !memcmp(aml + 1, "_S5_", 4) &&
		    aml[5] == 0x12) {
			const u8 *q =
			    aml + 8; /* one-byte PkgLength, NumElements */
			typ = aml_int(&q);
			break;
		}
	}
	u16 cnt = (u16) * (u32 *)(fadt + 64);
	print("acpi: \\_S5 SLP_TYP %u, PM1a_CNT at %x\n", typ, cnt);
	if (typ > 7 || !cnt)
		return -1;
	if (button) {
		/* as an OS does: the fixed power button (FADT flag clear),
		 * PWRBTN_EN in PM1a_EVT's enable half, the SCI's pin */
		u16 evt = (u16) * (u32 *)(fadt + 56);
		u16 sci = *(u16 *)(fadt + 46);
		if (*(u32 *)(fadt + 112) & (1u << 4)) {
			print("acpi: no fixed power button\n");
			return -1;
		}
		sci_evt_port = evt;
		ioapic_route_level(sci, 0x44);
		outw(evt + 2, 0x0100);
		print("acpi: waiting for the power button (SCI %u)\n", sci);
		while (!(sci_sts_seen & 0x0100))
			sti_hlt();
		print("acpi: power button pressed, status %x\n", sci_sts_seen);
	}
	/* the result line first: a power-off ends the VM here */
	print("hull-guest: PASS %s\n", button ? "acpibutton" : "acpi");
	outw(cnt, (u16)(typ << 10 | 0x2000));
	delay(10000000);
	print("acpi: still running after the S5 write\n");
	return -1;
}

static int test_smp(void)
{
	u32 cpus = mp_cpu_count();
	print("smp: MP table lists %u cpus\n", cpus);
	if (!cpus)
		return -1;
	memcpy(PTR(0x8000), ap_tramp, (size_t)(ap_tramp_end - ap_tramp));
	barrier();
	lapic_write(0x310, 0);
	lapic_write(0x300, 0x000c4500); /* INIT to all but self */
	delay(100000);
	lapic_write(0x300, 0x000c4608); /* SIPI, vector 8 = 0x8000 */
	delay(100000);
	for (u32 spins = 0; ap_checked_in < cpus - 1 && spins < 2000; spins++) {
		if (spins == 20)
			lapic_write(
			    0x300,
			    0x000c4608); /* second SIPI, per the MP spec */
		delay(100000);
	}
	print("smp: %u of %u cpus checked in\n", ap_checked_in + 1, cpus);
	return ap_checked_in + 1 == cpus ? 0 : -1;
}

/*
 * test=count [delay=N] [dirty=MiB]: counts for ever, in memory and on
 * COM1 ("count: N" per line, a busy wait of N loops between lines). The
 * snapshot tests save the guest mid-count and check a restore goes on
 * from the saved value. dirty=MiB also writes the count into every page
 * of that many MiB from 32 MiB up on each line (the live migration tests'
 * steady dirtying), and checks the pages it wrote last time still hold
 * the count it wrote: a page lost in a migration prints "count: LOST".
 * dirtykb=KiB does the same for that many KiB (added to dirty=), and
 * touch=MiB writes that many MiB from 64 MiB up once, before counting (a
 * large guest with a small working set). echo=1 also answers the host's
 * pings on the nic between counts (virtio.c, net_echo_poll). disk=1
 * also keeps the count in sector 0 of the first disk, reading back the
 * one before first (virtio.c, blk_count_step): a move that lost the
 * source's last disk writes prints "count: DISK LOST".
 */
static volatile u32 count_value;

static u32 arg_u32(const char *key, u32 dflt)
{
	const char *v = arg(key);
	if (!v)
		return dflt;
	u32 n = 0;
	while (*v >= '0' && *v <= '9')
		n = n * 10 + (u32)(*v++ - '0');
	return n;
}

static int test_count(void)
{
	u32 d = arg_u32("delay", 2000000);
	u32 pages = arg_u32("dirty", 0) * 256 + arg_u32("dirtykb", 0) / 4;
	u32 touch = arg_u32("touch", 0) * 256;
	u32 disk = arg_u32("disk", 0);
	if (arg_u32("echo", 0) && net_echo_init() < 0)
		return -1;
	if (disk && blk_count_init() < 0)
		return -1;
	for (u32 i = 0; i < touch; i++)
		*(volatile u32 *)PTR(0x4000000ull + (u64)i * 4096) = i + 1;
	for (;;) {
		count_value++;
		for (u32 i = 0; i < pages; i++) {
			volatile u32 *w = PTR(0x2000000ull + (u64)i * 4096);
			if (*w != count_value - 1 && count_value > 1) {
				print("count: LOST page %u holds %u\n", i, *w);
				for (;;)
					__asm__ volatile("cli; hlt");
			}
			*w = count_value;
		}
		if (disk && blk_count_step(count_value) < 0)
			for (;;)
				__asm__ volatile("cli; hlt");
		print("count: %u\n", count_value);
		net_echo_poll();
		delay(d);
	}
	return 0;
}

void guest_main(u32 kind, u32 info)
{
	int r = 0;
	boot_info(kind, info);
	idt_init();
	print("hull-guest: ready\n");

	const char *t = arg("test");
	if (!t || arg_is("test", "hello")) {
		r = 0;
		t = "hello";
	} else if (arg_is("test", "timer")) {
		r = test_timer();
	} else if (arg_is("test", "serial")) {
		r = test_timer();
		if (!r)
			r = test_serial();
	} else if (arg_is("test", "smbios")) {
		r = test_smbios();
	} else if (arg_is("test", "prompt")) {
		r = test_prompt();
	} else if (arg_is("test", "kbd")) {
		r = test_kbd();
	} else if (arg_is("test", "com2")) {
		r = test_com2();
	} else if (arg_is("test", "mdget")) {
		r = test_mdget(arg("key"));
	} else if (arg_is("test", "acpi")) {
		r = test_acpi(0);
	} else if (arg_is("test", "acpibutton")) {
		r = test_acpi(1);
	} else if (arg_is("test", "nmi")) {
		r = test_nmi();
	} else if (arg_is("test", "smp")) {
		r = test_smp();
	} else if (arg_is("test", "blk")) {
		r = test_virtio_blk(arg("blk"));
	} else if (arg_is("test", "blkbench")) {
		r = test_virtio_blk_bench();
	} else if (arg_is("test", "rng")) {
		r = test_virtio_rng();
	} else if (arg_is("test", "net")) {
		r = test_virtio_net();
	} else if (arg_is("test", "vconsole")) {
		r = test_virtio_console();
	} else if (arg_is("test", "reboot")) {
		print("hull-guest: rebooting\n");
		outb(0x64, 0xfe);
		for (;;)
			__asm__ volatile("cli; hlt");
	} else if (arg_is("test", "count")) {
		r = test_count();
	} else if (arg_is("test", "loop")) {
		delay(1000000);
	} else if (arg_is("test", "spin")) {
		for (;;)
			sti_hlt();
	} else {
		print("hull-guest: FAIL unknown test\n");
		poweroff();
	}
	size_t l = 0;
	while (t[l] && t[l] != ' ')
		l++;
	char name[32];
	if (l >= sizeof(name))
		l = sizeof(name) - 1;
	memcpy(name, t, l);
	name[l] = 0;
	if (r == 0)
		print("hull-guest: PASS %s\n", name);
	else
		print("hull-guest: FAIL %s\n", name);
	poweroff();
}
