package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// buildInitramfs writes an uncompressed newc cpio archive to path: the
// directories an init needs, /dev/console, the files (archive path → local
// file), the kernel's NIC modules under /lib/modules with their load order
// in /modules, and /guest-name. Written here rather than with cpio(1) so
// that /dev/console needs no mknod on the host.
func buildInitramfs(path, kdir string, files map[string]string, name string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := &cpioWriter{w: bufio.NewWriter(f)}
	for _, d := range []string{"dev", "proc", "sys", "tmp", "lib", "lib/modules"} {
		w.entry(d, 0o040755, 0, nil)
	}
	w.entry("dev/console", 0o020600, 5<<8|1, nil)
	for dst, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		w.entry(strings.TrimPrefix(dst, "/"), 0o100755, 0, b)
	}
	order, err := os.ReadFile(filepath.Join(kdir, "modules", "order"))
	if err != nil {
		return fmt.Errorf("kernel modules: %w (run scripts/qemu/fetch-kernels.sh)", err)
	}
	for _, m := range strings.Fields(string(order)) {
		b, err := os.ReadFile(filepath.Join(kdir, "modules", m))
		if err != nil {
			return err
		}
		w.entry("lib/modules/"+m, 0o100644, 0, b)
	}
	w.entry("modules", 0o100644, 0, order)
	w.entry("guest-name", 0o100644, 0, []byte(name+"\n"))
	w.entry("TRAILER!!!", 0, 0, nil)
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// cpioWriter writes newc entries, remembering the first error.
type cpioWriter struct {
	w   *bufio.Writer
	ino int
	err error
}

// entry writes one member; rdev is major<<8|minor for device nodes.
func (c *cpioWriter) entry(name string, mode, rdev int, data []byte) {
	if c.err != nil {
		return
	}
	c.ino++
	nlink := 1
	if mode&0o170000 == 0o040000 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev>>8, rdev&0xff, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write(append([]byte(name), 0))
	c.pad(len(hdr) + len(name) + 1)
	c.write(data)
	c.pad(len(data))
}

func (c *cpioWriter) write(b []byte) {
	if c.err == nil {
		_, c.err = c.w.Write(b)
	}
}

// pad aligns to 4 bytes after n bytes written.
func (c *cpioWriter) pad(n int) {
	if r := n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}
