package wire

import (
	"errors"
	"fmt"
	"io"
)

// StreamHeader opens every data stream, edge → agent.
type StreamHeader struct {
	Tunnel string // tunnel name
	Client string // public client address, host:port
}

// Stream status bytes, agent → edge.
const (
	StatusOK            byte = 0
	StatusUnknownTunnel byte = 1
	StatusDialFailed    byte = 2
	StatusBusy          byte = 3
)

// ErrStatus is wrapped by errors ReadStatus returns for a non-OK status.
var ErrStatus = errors.New("agent refused stream")

// StatusError is a non-OK status from the agent.
type StatusError struct {
	Code   byte
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("agent: %s", e.Reason)
}

func (e *StatusError) Unwrap() error { return ErrStatus }

// AppendStreamHeader appends h's encoding to dst.
func AppendStreamHeader(dst []byte, h StreamHeader) ([]byte, error) {
	if len(h.Tunnel) == 0 || len(h.Tunnel) > 255 || len(h.Client) > 255 {
		return dst, fmt.Errorf("stream header: %w: field length", ErrInvalid)
	}
	dst = append(dst, byte(len(h.Tunnel)))
	dst = append(dst, h.Tunnel...)
	dst = append(dst, byte(len(h.Client)))
	return append(dst, h.Client...), nil
}

// ReadStreamHeader reads a StreamHeader. Lengths are one byte, so nothing
// larger than 255 bytes is ever allocated.
func ReadStreamHeader(r io.Reader) (StreamHeader, error) {
	tunnel, err := readShort(r)
	if err != nil {
		return StreamHeader{}, fmt.Errorf("stream header: %w", err)
	}
	if tunnel == "" {
		return StreamHeader{}, fmt.Errorf("stream header: %w: empty tunnel", ErrInvalid)
	}
	client, err := readShort(r)
	if err != nil {
		return StreamHeader{}, fmt.Errorf("stream header: %w", err)
	}
	return StreamHeader{Tunnel: tunnel, Client: client}, nil
}

// WriteStatus writes a status byte, and the reason for a non-OK status.
func WriteStatus(w io.Writer, code byte, reason string) error {
	b := []byte{code}
	if code != StatusOK {
		if len(reason) > 255 {
			reason = reason[:255]
		}
		b = append(b, byte(len(reason)))
		b = append(b, reason...)
	}
	_, err := w.Write(b)
	return err
}

// ReadStatus reads the agent's answer to a StreamHeader. A non-OK status is
// returned as a *StatusError.
func ReadStatus(r io.Reader) error {
	var b [1]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return fmt.Errorf("stream status: %w", err)
	}
	if b[0] == StatusOK {
		return nil
	}
	reason, err := readShort(r)
	if err != nil {
		return fmt.Errorf("stream status: %w", err)
	}
	return &StatusError{Code: b[0], Reason: reason}
}

func readShort(r io.Reader) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", err
	}
	b := make([]byte, n[0])
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return string(b), nil
}
