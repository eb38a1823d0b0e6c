// Package relay splices two connections together.
package relay

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// halfCloser is a conn whose write side closes alone (TCP, smux streams).
type halfCloser interface{ CloseWrite() error }

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Pipe copies a→b and b→a until both directions end, passing each EOF on as
// a half-close, then closes both. An error in either direction closes both
// at once. It returns the bytes copied each way and the first real error
// (normal endings are not errors). Pipe blocks until done.
func Pipe(a, b net.Conn) (aToB, bToA int64, err error) {
	var wg sync.WaitGroup
	var errB error
	wg.Add(1)
	go func() {
		defer wg.Done()
		bToA, errB = copyHalf(a, b)
		if errB != nil {
			a.Close()
			b.Close()
		}
	}()
	aToB, err = copyHalf(b, a)
	if err != nil {
		a.Close()
		b.Close()
	}
	wg.Wait()
	a.Close()
	b.Close()
	if err == nil {
		err = errB
	}
	return aToB, bToA, err
}

// copyHalf copies src to dst and half-closes dst's write side at EOF.
func copyHalf(dst, src net.Conn) (int64, error) {
	var n int64
	var err error
	if wt, ok := src.(io.WriterTo); ok && !isTCP(src) {
		// smux streams hand out their buffered frames without a copy.
		n, err = wt.WriteTo(dst)
	} else {
		bp := bufPool.Get().(*[]byte)
		n, err = io.CopyBuffer(writerOnly{dst}, readerOnly{src}, *bp)
		bufPool.Put(bp)
	}
	if err != nil && !Normal(err) {
		return n, err
	}
	if hc, ok := dst.(halfCloser); ok {
		hc.CloseWrite()
	} else {
		dst.Close()
	}
	return n, nil
}

func isTCP(c net.Conn) bool { _, ok := c.(*net.TCPConn); return ok }

type readerOnly struct{ io.Reader }
type writerOnly struct{ io.Writer }

// Normal reports whether err is an ordinary end of a connection: EOF, a
// closed conn or pipe, a reset or broken pipe from the peer.
func Normal(err error) bool {
	return err == nil ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.ErrClosedPipe) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, os.ErrDeadlineExceeded)
}
