package wire

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// The handshake as bytes on the wire. These fixtures pin the protocol: a
// change that breaks one breaks every deployed agent or edge.
func TestHandshakeFixtures(t *testing.T) {
	for _, tc := range []struct {
		name string
		typ  Type
		msg  any
		want string
	}{
		// key = field<<1 | kind (0 varint, 1 length-delimited); labels sorted by key
		{"hello", TypeHello, Hello{Token: "s3cret", ID: "pi-1", Labels: map[string]string{"site": "lab", "arch": "arm64"}, Version: "1.0.0", OS: "linux", Arch: "arm64"},
			"\x01\x00\x3f" + "\x03\x06s3cret" + "\x05\x04pi-1" + "\x07\x0d\x03\x04arch\x05\x05arm64" + "\x07\x0b\x03\x04site\x05\x03lab" +
				"\x09\x051.0.0" + "\x0b\x05linux" + "\x0d\x05arm64"},
		{"welcome", TypeWelcome, Welcome{Edge: "1.0.0", HeartbeatMillis: 10000, TimeoutMillis: 30000, MaxStreams: 128},
			"\x02\x00\x11" + "\x03\x051.0.0" + "\x04\x90\x4e" + "\x06\xb0\xea\x01" + "\x08\x80\x01"},
		{"refuse", TypeRefuse, Refuse{Code: RefuseToken, Reason: "unknown token"},
			"\x03\x00\x1e" + "\x03\x0dunknown_token" + "\x05\x0dunknown token"},
		{"bind", TypeBind, Bind{Name: "ssh", Proto: "tcp", RemotePort: 2222},
			"\x04\x00\x0d" + "\x03\x03ssh" + "\x05\x03tcp" + "\x06\xae\x11"},
		{"bind result", TypeBindResult, BindResult{Name: "ssh", OK: true, Public: "edge:2222"},
			"\x05\x00\x12" + "\x03\x03ssh" + "\x04\x01" + "\x07\x09edge:2222"},
		{"ping", TypePing, Ping{Seq: 7}, "\x07\x00\x02" + "\x02\x07"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := WriteFrame(&buf, tc.typ, tc.msg); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tc.want {
				t.Fatalf("encoding:\n got %q\nwant %q", got, tc.want)
			}
			typ, body, err := ReadFrame(strings.NewReader(tc.want))
			if err != nil || typ != tc.typ {
				t.Fatalf("ReadFrame: type %v err %v", typ, err)
			}
			if !strings.HasSuffix(tc.want, string(body)) {
				t.Fatalf("body %q", body)
			}
		})
	}
}

func TestPreamble(t *testing.T) {
	var buf bytes.Buffer
	WritePreamble(&buf, Version)
	if buf.String() != "TTHR\x01" {
		t.Fatalf("preamble %q", buf.String())
	}
	for _, tc := range []struct {
		in   string
		ver  uint8
		want error
	}{
		{"TTHR\x01", 1, nil},
		{"TTHR\x02", 2, nil},
		{"SSH-2", 0, ErrBadMagic},
		{"TTH", 0, io.ErrUnexpectedEOF},
		{"", 0, io.EOF},
	} {
		ver, err := ReadPreamble(strings.NewReader(tc.in))
		if !errors.Is(err, tc.want) || ver != tc.ver {
			t.Errorf("ReadPreamble(%q) = %d, %v; want %d, %v", tc.in, ver, err, tc.ver, tc.want)
		}
	}
}

// The length is checked before the body is allocated: a header claiming
// 64 KiB with nothing behind it fails at once without reading further.
func TestReadFrameCaps(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want error
	}{
		{"oversized", "\x01\xff\xff", ErrFrameTooLarge},
		{"just over", "\x01\x40\x01", ErrFrameTooLarge},
		{"truncated body", "\x01\x00\x10{\"a\"", io.ErrUnexpectedEOF},
		{"truncated header", "\x01\x00", io.ErrUnexpectedEOF},
		{"empty", "", io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ReadFrame(strings.NewReader(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	big := Hello{Token: strings.Repeat("x", MaxFrame)}
	if err := WriteFrame(io.Discard, TypeHello, big); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("writing an oversized frame: %v", err)
	}
}

func TestReadExpect(t *testing.T) {
	refuse := frame(t, TypeRefuse, Refuse{Code: RefuseVersion, Reason: "too new"})
	var w Welcome
	err := ReadExpect(bytes.NewReader(refuse), TypeWelcome, &w)
	var ref *RefusedError
	if !errors.As(err, &ref) || ref.Refuse.Code != RefuseVersion {
		t.Fatalf("refusal: %v", err)
	}
	err = ReadExpect(bytes.NewReader(frame(t, TypePing, Ping{})), TypeWelcome, &w)
	if !errors.Is(err, ErrUnexpected) {
		t.Fatalf("wrong type: %v", err)
	}
	for name, body := range map[string]string{
		"truncated key":        "\x02\x00\x01\x80",
		"length past the body": "\x02\x00\x02\x03\x09",
		"string as a varint":   "\x02\x00\x02\x02\x05",
		"number as a string":   "\x02\x00\x03\x05\x01x",
	} {
		if err := ReadExpect(strings.NewReader(body), TypeWelcome, &w); err == nil {
			t.Errorf("%s: decoded without error: %+v", name, w)
		}
	}
}

// Every message survives a round trip; fields a decoder does not know are
// skipped, so either side can grow a message without breaking the other.
func TestRoundTripAndUnknownFields(t *testing.T) {
	msgs := []struct {
		t       Type
		in, out any
	}{
		{TypeHello, &Hello{Token: "t", ID: "a", Labels: map[string]string{"k": "v", "x": ""}, Version: "v", OS: "o", Arch: "a"}, &Hello{}},
		{TypeWelcome, &Welcome{Edge: "e", HeartbeatMillis: 1, TimeoutMillis: 2, MaxStreams: 3, ReplacedPrevious: true}, &Welcome{}},
		{TypeRefuse, &Refuse{Code: "c", Reason: "r"}, &Refuse{}},
		{TypeBind, &Bind{Name: "n", Proto: "labeled", RemotePort: 65535, Hostname: "h", Subdomain: "s", Labels: map[string]string{"a": "b"}}, &Bind{}},
		{TypeBind, &Bind{Name: "w", Proto: "http", HostHeader: "localhost", BasicAuth: []string{"a:b", "c:sha256:00"},
			AllowCIDRs: []string{"10.0.0.0/8", "::1"}, DenyCIDRs: []string{"10.1.0.0/16"}}, &Bind{}},
		{TypeBindResult, &BindResult{Name: "n", OK: true, Public: "p", Error: "e"}, &BindResult{}},
		{TypeUnbind, &Unbind{Name: "n"}, &Unbind{}},
		{TypePing, &Ping{Seq: 1 << 60, RTTMicros: 1234}, &Ping{}},
		{TypePong, &Pong{Seq: 99}, &Pong{}},
	}
	for _, m := range msgs {
		b, err := AppendFrame(nil, m.t, m.in)
		if err != nil {
			t.Fatal(err)
		}
		// A newer peer's fields 30 (varint) and 31 (bytes) come first.
		body := append([]byte{60, 0x05, 63, 0x02, 'h', 'i'}, b[3:]...)
		if err := Decode(m.t, body, m.out); err != nil {
			t.Fatalf("%v: %v", m.t, err)
		}
		if got, want := fmt.Sprintf("%+v", m.out), fmt.Sprintf("%+v", m.in); got != want {
			t.Errorf("%v round trip:\n got %s\nwant %s", m.t, got, want)
		}
	}
	if _, err := AppendFrame(nil, TypePing, Pong{}); err == nil {
		t.Error("a Pong encoded as a ping frame")
	}
	if err := Decode(TypePing, nil, Ping{}); err == nil {
		t.Error("decoding into a non-pointer accepted")
	}
}

func frame(t *testing.T, typ Type, v any) []byte {
	b, err := AppendFrame(nil, typ, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStreamHeaderFixtures(t *testing.T) {
	b, err := AppendStreamHeader(nil, StreamHeader{Tunnel: "ssh", Client: "203.0.113.9:5555"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "\x03ssh\x10203.0.113.9:5555"; string(b) != want {
		t.Fatalf("header %q, want %q", b, want)
	}
	h, err := ReadStreamHeader(bytes.NewReader(b))
	if err != nil || h.Tunnel != "ssh" || h.Client != "203.0.113.9:5555" {
		t.Fatalf("read back %+v, %v", h, err)
	}
	for _, bad := range []string{"", "\x00\x00", "\x05ss", "\x03ssh"} {
		if _, err := ReadStreamHeader(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadStreamHeader(%q) accepted", bad)
		}
	}
	if _, err := AppendStreamHeader(nil, StreamHeader{Tunnel: strings.Repeat("a", 256)}); err == nil {
		t.Error("256-byte tunnel name accepted")
	}
}

func TestStatus(t *testing.T) {
	var buf bytes.Buffer
	WriteStatus(&buf, StatusOK, "")
	WriteStatus(&buf, StatusDialFailed, "connection refused")
	if want := "\x00\x02\x12connection refused"; buf.String() != want {
		t.Fatalf("status bytes %q, want %q", buf.String(), want)
	}
	if err := ReadStatus(&buf); err != nil {
		t.Fatalf("ok status: %v", err)
	}
	err := ReadStatus(&buf)
	var se *StatusError
	if !errors.As(err, &se) || se.Code != StatusDialFailed || se.Reason != "connection refused" || !errors.Is(err, ErrStatus) {
		t.Fatalf("dial-failed status: %v", err)
	}
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("a", 300)
	for _, tc := range []struct {
		name string
		h    Hello
		ok   bool
	}{
		{"good", Hello{Token: "t", ID: "pi-4.b_1", Labels: map[string]string{"k8s.io/zone": "eu west"}}, true},
		{"empty id", Hello{Token: "t"}, false},
		{"id with slash", Hello{Token: "t", ID: "a/b"}, false},
		{"long id", Hello{Token: "t", ID: long}, false},
		{"long token", Hello{Token: strings.Repeat("t", MaxTokenLen+1), ID: "a"}, false},
		{"label with comma", Hello{Token: "t", ID: "a", Labels: map[string]string{"k": "a,b"}}, false},
		{"label with newline", Hello{Token: "t", ID: "a", Labels: map[string]string{"k": "a\nb"}}, false},
		{"empty label key", Hello{Token: "t", ID: "a", Labels: map[string]string{"": "v"}}, false},
		{"long label value", Hello{Token: "t", ID: "a", Labels: map[string]string{"k": long}}, false},
	} {
		if err := tc.h.Validate(); (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	many := map[string]string{}
	for i := 0; i <= MaxLabels; i++ {
		many[strings.Repeat("k", i+1)[:min(i+1, 60)]+string(rune('a'+i%26))] = "v"
	}
	if err := ValidLabels(many); err == nil {
		t.Error("more than MaxLabels labels accepted")
	}
}

// FuzzReadFrame: no input makes the reader panic or allocate past the cap.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte("\x01\x00\x02{}"))
	f.Add([]byte("\x03\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, body, err := ReadFrame(bytes.NewReader(b))
		if err == nil && len(body) > MaxFrame {
			t.Fatalf("body of %d bytes", len(body))
		}
		var h Hello
		ReadExpect(bytes.NewReader(b), TypeHello, &h)
		ReadStreamHeader(bytes.NewReader(b))
		ReadStatus(bytes.NewReader(b))
	})
}
