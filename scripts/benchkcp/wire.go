package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/tetherhq/tether/internal/lossy"
)

// wire joins two network namespaces with a TUN device in each (both named
// -dev) and forwards IP packets between them through a lossy.Shaper per
// direction: the kernel here has no netem, so loss, delay and the rate
// limit happen here. It runs until SIGINT/SIGTERM.
func wire(args []string) error {
	fs := flag.NewFlagSet("wire", flag.ExitOnError)
	nsA := fs.String("a", "", "first namespace (ip netns name)")
	nsB := fs.String("b", "", "second namespace")
	dev := fs.String("dev", "tw0", "TUN device name in both")
	loss := fs.Float64("loss", 0.02, "drop probability per packet, each way")
	delay := fs.Duration("delay", 20*time.Millisecond, "one-way delay")
	rate := fs.Float64("rate", 20e6, "bottleneck, bits/s, each way")
	queue := fs.Int("queue", 128<<10, "bottleneck buffer, bytes")
	fs.Parse(args)
	if *nsA == "" || *nsB == "" {
		return fmt.Errorf("wire: -a and -b are required")
	}
	fa, err := openTun(*nsA, *dev)
	if err != nil {
		return err
	}
	fb, err := openTun(*nsB, *dev)
	if err != nil {
		return err
	}
	link := lossy.Link{Loss: *loss, Delay: *delay, Rate: int64(*rate), Queue: *queue}
	ab := lossy.NewShaper(link, 1, func(p []byte) { fb.Write(p) })
	ba := lossy.NewShaper(link, 2, func(p []byte) { fa.Write(p) })
	go pump(fa, ab)
	go pump(fb, ba)
	fmt.Fprintf(os.Stderr, "wire up: %s <-> %s, %v\n", *nsA, *nsB, link)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	fmt.Fprintf(os.Stderr, "wire: dropped %d a→b, %d b→a\n", ab.Dropped(), ba.Dropped())
	return nil
}

func pump(f *os.File, s *lossy.Shaper) {
	buf := make([]byte, 65536)
	for {
		n, err := f.Read(buf)
		if err != nil {
			return
		}
		s.Send(buf[:n])
	}
}

// openTun creates TUN device dev inside namespace ns and returns its file.
// The device lives as long as the file stays open.
func openTun(ns, dev string) (*os.File, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, err
	}
	defer orig.Close()
	target, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("setns %s: %w", ns, err)
	}
	defer unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET)
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var ifr [unix.IFNAMSIZ + 64]byte
	copy(ifr[:], dev)
	*(*uint16)(unsafe.Pointer(&ifr[unix.IFNAMSIZ])) = unix.IFF_TUN | unix.IFF_NO_PI
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.TUNSETIFF, uintptr(unsafe.Pointer(&ifr[0]))); e != 0 {
		unix.Close(fd)
		return nil, fmt.Errorf("TUNSETIFF %s in %s: %w", dev, ns, e)
	}
	return os.NewFile(uintptr(fd), dev), nil
}
