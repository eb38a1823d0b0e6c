package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Control messages are encoded as tagged fields, in the manner of protocol
// buffers: each field is a uvarint key (field number << 1 | kind) and a
// value, kind 0 a uvarint, kind 1 a uvarint length and that many bytes.
// Zero values are left out; a decoder skips fields it does not know, so
// either side may add fields without breaking the other. A string map is
// one length-delimited entry per pair, holding the key and the value as
// two length-delimited fields. No reflection, no JSON decoder: the agent
// goes onto router flash.

const (
	kindVarint = 0
	kindBytes  = 1
)

var errMalformed = errors.New("malformed message")

type encoder struct{ b []byte }

func (e *encoder) key(field, kind int) { e.b = binary.AppendUvarint(e.b, uint64(field<<1|kind)) }

func (e *encoder) str(field int, s string) {
	if s == "" {
		return
	}
	e.key(field, kindBytes)
	e.b = binary.AppendUvarint(e.b, uint64(len(s)))
	e.b = append(e.b, s...)
}

// strs writes a list as one entry per element, in order.
func (e *encoder) strs(field int, l []string) {
	for _, s := range l {
		e.key(field, kindBytes)
		e.b = binary.AppendUvarint(e.b, uint64(len(s)))
		e.b = append(e.b, s...)
	}
}

func (e *encoder) uint(field int, v uint64) {
	if v == 0 {
		return
	}
	e.key(field, kindVarint)
	e.b = binary.AppendUvarint(e.b, v)
}

func (e *encoder) bool(field int, v bool) {
	if v {
		e.uint(field, 1)
	}
}

// strmap writes the pairs sorted by key, so a message has one encoding.
func (e *encoder) strmap(field int, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := m[k]
		var pair encoder
		pair.str(1, k)
		pair.str(2, v)
		e.key(field, kindBytes)
		e.b = binary.AppendUvarint(e.b, uint64(len(pair.b)))
		e.b = append(e.b, pair.b...)
	}
}

// decoder walks the fields of one message body.
type decoder struct {
	b     []byte
	field int
	kind  int
	val   uint64 // kindVarint
	bytes []byte // kindBytes
	err   error
}

// next reads the next field; false at the end or on error (see err).
func (d *decoder) next() bool {
	if d.err != nil || len(d.b) == 0 {
		return false
	}
	k, n := binary.Uvarint(d.b)
	if n <= 0 || k>>1 > math.MaxInt32 {
		d.err = errMalformed
		return false
	}
	d.b = d.b[n:]
	d.field, d.kind = int(k>>1), int(k&1)
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errMalformed
		return false
	}
	d.b = d.b[n:]
	if d.kind == kindVarint {
		d.val = v
		return true
	}
	if v > uint64(len(d.b)) {
		d.err = errMalformed
		return false
	}
	d.bytes, d.b = d.b[:v], d.b[v:]
	return true
}

func (d *decoder) str() string {
	if d.kind != kindBytes {
		d.err = errMalformed
		return ""
	}
	return string(d.bytes)
}

func (d *decoder) uint() uint64 {
	if d.kind != kindVarint {
		d.err = errMalformed
	}
	return d.val
}

func (d *decoder) int() int {
	v := d.uint()
	if v > math.MaxInt32 {
		d.err = errMalformed
		return 0
	}
	return int(v)
}

func (d *decoder) mapEntry(m *map[string]string) {
	if d.kind != kindBytes {
		d.err = errMalformed
		return
	}
	pair := decoder{b: d.bytes}
	var k, v string
	for pair.next() {
		switch pair.field {
		case 1:
			k = pair.str()
		case 2:
			v = pair.str()
		}
	}
	if pair.err != nil {
		d.err = pair.err
		return
	}
	if *m == nil {
		*m = map[string]string{}
	}
	if len(*m) >= MaxLabels {
		d.err = fmt.Errorf("%w: more than %d labels", ErrInvalid, MaxLabels)
		return
	}
	(*m)[k] = v
}

// message is implemented by every control message.
type message interface {
	encode(e *encoder)
	decode(d *decoder)
}

func (h *Hello) encode(e *encoder) {
	e.str(1, h.Token)
	e.str(2, h.ID)
	e.strmap(3, h.Labels)
	e.str(4, h.Version)
	e.str(5, h.OS)
	e.str(6, h.Arch)
}

func (h *Hello) decode(d *decoder) {
	for d.next() {
		switch d.field {
		case 1:
			h.Token = d.str()
		case 2:
			h.ID = d.str()
		case 3:
			d.mapEntry(&h.Labels)
		case 4:
			h.Version = d.str()
		case 5:
			h.OS = d.str()
		case 6:
			h.Arch = d.str()
		}
	}
}

func (w *Welcome) encode(e *encoder) {
	e.str(1, w.Edge)
	e.uint(2, uint64(w.HeartbeatMillis))
	e.uint(3, uint64(w.TimeoutMillis))
	e.uint(4, uint64(w.MaxStreams))
	e.bool(5, w.ReplacedPrevious)
}

func (w *Welcome) decode(d *decoder) {
	for d.next() {
		switch d.field {
		case 1:
			w.Edge = d.str()
		case 2:
			w.HeartbeatMillis = int64(d.int())
		case 3:
			w.TimeoutMillis = int64(d.int())
		case 4:
			w.MaxStreams = d.int()
		case 5:
			w.ReplacedPrevious = d.uint() != 0
		}
	}
}

func (r *Refuse) encode(e *encoder) {
	e.str(1, r.Code)
	e.str(2, r.Reason)
}

func (r *Refuse) decode(d *decoder) {
	for d.next() {
		switch d.field {
		case 1:
			r.Code = d.str()
		case 2:
			r.Reason = d.str()
		}
	}
}

func (b *Bind) encode(e *encoder) {
	e.str(1, b.Name)
	e.str(2, b.Proto)
	e.uint(3, uint64(b.RemotePort))
	e.str(4, b.Hostname)
	e.str(5, b.Subdomain)
	e.strmap(6, b.Labels)
	e.str(7, b.HostHeader)
	e.strs(8, b.BasicAuth)
	e.strs(9, b.AllowCIDRs)
	e.strs(10, b.DenyCIDRs)
}

func (b *Bind) decode(d *decoder) {
	for d.next() {
		switch d.field {
		case 1:
			b.Name = d.str()
		case 2:
			b.Proto = d.str()
		case 3:
			b.RemotePort = d.int()
		case 4:
			b.Hostname = d.str()
		case 5:
			b.Subdomain = d.str()
		case 6:
			d.mapEntry(&b.Labels)
		case 7:
			b.HostHeader = d.str()
		case 8:
			b.BasicAuth = append(b.BasicAuth, d.str())
		case 9:
			b.AllowCIDRs = append(b.AllowCIDRs, d.str())
		case 10:
			b.DenyCIDRs = append(b.DenyCIDRs, d.str())
		}
	}
}

func (r *BindResult) encode(e *encoder) {
	e.str(1, r.Name)
	e.bool(2, r.OK)
	e.str(3, r.Public)
	e.str(4, r.Error)
}

func (r *BindResult) decode(d *decoder) {
	for d.next() {
		switch d.field {
		case 1:
			r.Name = d.str()
		case 2:
			r.OK = d.uint() != 0
		case 3:
			r.Public = d.str()
		case 4:
			r.Error = d.str()
		}
	}
}

func (u *Unbind) encode(e *encoder) { e.str(1, u.Name) }

func (u *Unbind) decode(d *decoder) {
	for d.next() {
		if d.field == 1 {
			u.Name = d.str()
		}
	}
}

func (p *Ping) encode(e *encoder) {
	e.uint(1, p.Seq)
	e.uint(2, uint64(p.RTTMicros))
}

func (p *Ping) decode(d *decoder) {
	for d.next() {
		switch d.field {
		case 1:
			p.Seq = d.uint()
		case 2:
			p.RTTMicros = int64(d.uint() & math.MaxInt64)
		}
	}
}

func (p *Pong) encode(e *encoder) { e.uint(1, p.Seq) }

func (p *Pong) decode(d *decoder) {
	for d.next() {
		if d.field == 1 {
			p.Seq = d.uint()
		}
	}
}

// asPointer reports whether v is a pointer to a message, which Decode needs.
func asPointer(v any) bool {
	switch v.(type) {
	case *Hello, *Welcome, *Refuse, *Bind, *BindResult, *Unbind, *Ping, *Pong:
		return true
	}
	return false
}

// asMessage returns v (a message or a pointer to one) as a message, and
// the frame type it must travel in.
func asMessage(v any) (message, Type, bool) {
	switch m := v.(type) {
	case Hello:
		return &m, TypeHello, true
	case *Hello:
		return m, TypeHello, true
	case Welcome:
		return &m, TypeWelcome, true
	case *Welcome:
		return m, TypeWelcome, true
	case Refuse:
		return &m, TypeRefuse, true
	case *Refuse:
		return m, TypeRefuse, true
	case Bind:
		return &m, TypeBind, true
	case *Bind:
		return m, TypeBind, true
	case BindResult:
		return &m, TypeBindResult, true
	case *BindResult:
		return m, TypeBindResult, true
	case Unbind:
		return &m, TypeUnbind, true
	case *Unbind:
		return m, TypeUnbind, true
	case Ping:
		return &m, TypePing, true
	case *Ping:
		return m, TypePing, true
	case Pong:
		return &m, TypePong, true
	case *Pong:
		return m, TypePong, true
	}
	return nil, 0, false
}
