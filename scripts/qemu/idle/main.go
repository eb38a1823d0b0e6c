// Command idle is the baseline of the qemu-user memory figures: a Go program
// that does nothing, so that its RSS under qemu-<arch>-static is what the
// emulator and an idle Go runtime cost before the agent adds anything. It
// prints "ready" once started and exits on SIGTERM or SIGINT.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	fmt.Println("ready")
	<-c
}
