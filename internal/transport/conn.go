package transport

import (
	"crypto/tls"
	"net"
	"sync"
	"time"
)

// Conn is a TLS connection prepared for smux. Close is idempotent.
type Conn struct {
	raw  net.Conn
	cork *corkConn
	tls  *tls.Conn
	wmu  sync.Mutex // serialises WriteBuffers with Write
}

func newConn(raw net.Conn) *Conn {
	return &Conn{raw: raw, cork: &corkConn{Conn: raw}}
}

func (c *Conn) Read(p []byte) (int, error) { return c.tls.Read(p) }

// Write writes p as TLS records, gathered into one write on the raw conn.
func (c *Conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.cork.cork()
	n, err := c.tls.Write(p)
	if ferr := c.cork.uncork(); err == nil {
		err = ferr
	}
	return n, err
}

// WriteBuffers writes the buffers as one TLS write (smux passes a frame
// header and its payload). The data is gathered into a pooled buffer so an
// idle session holds none.
func (c *Conn) WriteBuffers(v [][]byte) (int, error) {
	total := 0
	for _, b := range v {
		total += len(b)
	}
	bp := getBuf(total)
	buf := (*bp)[:0]
	for _, b := range v {
		buf = append(buf, b...)
	}
	n, err := c.Write(buf)
	putBuf(bp)
	return n, err
}

// Close closes the connection; calling it again is harmless. Over KCP,
// which has no FIN, it first sends a TLS close_notify (unless a write is
// in progress), so the peer sees EOF at once rather than at its heartbeat
// timeout; it never blocks for more than closeNotifyTimeout.
func (c *Conn) Close() error {
	if _, ok := c.raw.(*kcpConn); ok && c.wmu.TryLock() {
		c.cork.cork()
		c.tls.CloseWrite() // into the cork buffer; sets raw's write deadline
		c.raw.SetWriteDeadline(time.Now().Add(closeNotifyTimeout))
		c.cork.uncork()
		c.wmu.Unlock()
	}
	return c.raw.Close()
}

// Retire marks the connection as ended on purpose (a reload, a shutdown,
// an upgrade nobody took), before Close: auto does not count a KCP session
// that ends so as one that died young.
func (c *Conn) Retire() {
	if k, ok := c.raw.(*kcpConn); ok {
		k.retired.Store(true)
	}
}

// closeNotifyTimeout bounds the close_notify write on a full KCP window.
const closeNotifyTimeout = 50 * time.Millisecond

func (c *Conn) LocalAddr() net.Addr                { return c.raw.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr               { return c.raw.RemoteAddr() }
func (c *Conn) SetDeadline(t time.Time) error      { return c.raw.SetDeadline(t) }
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.raw.SetReadDeadline(t) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

// Transport reports what the connection runs over: TCP or KCP.
func (c *Conn) Transport() string {
	if _, ok := c.raw.(*kcpConn); ok {
		return KCP
	}
	return TCP
}

// ConnectionState reports the TLS state.
func (c *Conn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

// corkConn sits under TLS. While corked it gathers writes and sends them in
// one call on uncork, so one smux frame (several TLS records) costs one
// syscall. The gather buffer is pooled between writes.
// crypto/tls may also write from the reading goroutine (a KeyUpdate reply),
// so the cork state has its own lock.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	bp     *[]byte
}

func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	c.mu.Unlock()
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	if c.bp == nil {
		c.bp = getBuf(len(p) + 256)
		*c.bp = (*c.bp)[:0]
	}
	*c.bp = append(*c.bp, p...)
	return len(p), nil
}

func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	if c.bp == nil {
		return nil
	}
	bp := c.bp
	c.bp = nil
	_, err := c.Conn.Write(*bp)
	putBuf(bp)
	return err
}

// Buffers for one smux frame (64 KiB + header + TLS overhead) come from a
// pool; larger ones are allocated and dropped.
const poolBufSize = 72 << 10

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, poolBufSize); return &b }}

func getBuf(n int) *[]byte {
	if n > poolBufSize {
		b := make([]byte, 0, n)
		return &b
	}
	return bufPool.Get().(*[]byte)
}

func putBuf(bp *[]byte) {
	if cap(*bp) != poolBufSize {
		return
	}
	*bp = (*bp)[:0]
	bufPool.Put(bp)
}
