package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

const (
	// Magic opens every agent connection, inside TLS.
	Magic = "TTHR"
	// Version is the protocol version this build speaks.
	Version = 1
	// ALPN is the TLS application protocol of agent connections.
	ALPN = "tether/1"
	// MaxFrame caps the JSON body of one control frame.
	MaxFrame = 16 << 10
	// HandshakeTimeout bounds TLS + Hello + Welcome on both sides.
	HandshakeTimeout = 10 * time.Second
)

// Type identifies a control frame.
type Type uint8

// Control frame types. Their numbers never change.
const (
	TypeHello      Type = 1
	TypeWelcome    Type = 2
	TypeRefuse     Type = 3
	TypeBind       Type = 4
	TypeBindResult Type = 5
	TypeUnbind     Type = 6
	TypePing       Type = 7
	TypePong       Type = 8
)

func (t Type) String() string {
	switch t {
	case TypeHello:
		return "hello"
	case TypeWelcome:
		return "welcome"
	case TypeRefuse:
		return "refuse"
	case TypeBind:
		return "bind"
	case TypeBindResult:
		return "bind-result"
	case TypeUnbind:
		return "unbind"
	case TypePing:
		return "ping"
	case TypePong:
		return "pong"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Sentinel errors callers branch on.
var (
	ErrBadMagic      = errors.New("not a tether agent (bad magic)")
	ErrFrameTooLarge = errors.New("frame too large")
	ErrUnexpected    = errors.New("unexpected message")
)

// WritePreamble writes Magic and the version byte.
func WritePreamble(w io.Writer, version uint8) error {
	_, err := w.Write(append([]byte(Magic), version))
	return err
}

// ReadPreamble reads Magic and returns the peer's version byte.
func ReadPreamble(r io.Reader) (uint8, error) {
	var b [len(Magic) + 1]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, err
	}
	if string(b[:len(Magic)]) != Magic {
		return 0, ErrBadMagic
	}
	return b[len(Magic)], nil
}

// AppendFrame appends the frame of type t for v (a message of this
// package, or a pointer to one) to dst.
func AppendFrame(dst []byte, t Type, v any) ([]byte, error) {
	m, mt, ok := asMessage(v)
	if !ok || mt != t {
		return dst, fmt.Errorf("encode %v: %w: %T", t, ErrUnexpected, v)
	}
	var e encoder
	m.encode(&e)
	body := e.b
	if len(body) > MaxFrame {
		return dst, fmt.Errorf("encode %v: %w (%d > %d bytes)", t, ErrFrameTooLarge, len(body), MaxFrame)
	}
	dst = append(dst, byte(t), 0, 0)
	binary.BigEndian.PutUint16(dst[len(dst)-2:], uint16(len(body)))
	return append(dst, body...), nil
}

// WriteFrame writes v as one frame of type t in a single Write.
func WriteFrame(w io.Writer, t Type, v any) error {
	b, err := AppendFrame(make([]byte, 0, 128), t, v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// ReadFrame reads one frame. The length is checked against MaxFrame before
// the body is allocated.
func ReadFrame(r io.Reader) (Type, []byte, error) {
	var hdr [3]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint16(hdr[1:]))
	if n > MaxFrame {
		return 0, nil, fmt.Errorf("%w: %d > %d bytes", ErrFrameTooLarge, n, MaxFrame)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return Type(hdr[0]), body, nil
}

// Decode decodes a frame body of type t into v, a pointer to the message
// of that type. Fields it does not know are skipped.
func Decode(t Type, body []byte, v any) error {
	m, mt, ok := asMessage(v)
	if !ok || mt != t || !asPointer(v) {
		return fmt.Errorf("decode %v: %w: into %T", t, ErrUnexpected, v)
	}
	d := decoder{b: body}
	m.decode(&d)
	if d.err != nil {
		return fmt.Errorf("decode %v: %w", t, d.err)
	}
	return nil
}

// ReadExpect reads one frame and decodes it into v if it has type want. A
// Refuse frame is returned as a *RefusedError whatever want is.
func ReadExpect(r io.Reader, want Type, v any) error {
	t, body, err := ReadFrame(r)
	if err != nil {
		return err
	}
	if t == TypeRefuse && want != TypeRefuse {
		var ref Refuse
		if err := Decode(t, body, &ref); err != nil {
			return err
		}
		return &RefusedError{Refuse: ref}
	}
	if t != want {
		return fmt.Errorf("%w: got %v, want %v", ErrUnexpected, t, want)
	}
	return Decode(t, body, v)
}
