// The MIT License (MIT)
//
// Copyright (c) 2015 xtaci
//
// Permission is hereby granted, free of charge, to any person obtaining a copy
// of this software and associated documentation files (the "Software"), to deal
// in the Software without restriction, including without limitation the rights
// to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
// copies of the Software, and to permit persons to whom the Software is
// furnished to do so, subject to the following conditions:
//
// The above copyright notice and this permission notice shall be included in all
// copies or substantial portions of the Software.
//
// THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
// IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
// FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
// AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
// LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
// OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
// SOFTWARE.

// tether: this copy carries no forward error correction. Upstream's
// Reed-Solomon FEC (github.com/klauspost/reedsolomon) costs ≈ 190 KB of
// the agent's router flash, and tether's edge never enabled it. The
// constants and packet layout stay, so sess.go still tells FEC-framed
// datagrams apart; newFECEncoder and newFECDecoder always return nil, so
// a session sends plain KCP and ignores FEC parity from a peer (data shards
// still reach KCP, as upstream does with them).

package kcp

import "encoding/binary"

// FEC (Forward Error Correction) protocol constants
const (
	fecHeaderSize      = 6                 // FEC header: seqid(4B) + type(2B)
	fecHeaderSizePlus2 = fecHeaderSize + 2 // FEC header + 2B payload size field
	typeData           = 0xf1              // FEC packet type: data shard
	typeParity         = 0xf2              // FEC packet type: parity shard
	typeOOB            = 0xf3              // FEC packet type: out-of-band (unreliable)
)

// fecPacket is a decoded FEC packet
type fecPacket []byte

func (bts fecPacket) flag() uint16 { return binary.LittleEndian.Uint16(bts[4:]) }

// fecDecoder is never built: decode on its nil value recovers nothing.
type fecDecoder struct{}

func newFECDecoder(dataShards, parityShards int) *fecDecoder { return nil }

func (dec *fecDecoder) decode(in fecPacket) [][]byte { return nil }

// fecEncoder is never built: sess.go checks for nil before each call.
type fecEncoder struct{}

func newFECEncoder(dataShards, parityShards, offset int) *fecEncoder { return nil }

func (enc *fecEncoder) encode(b []byte, rto uint32) [][]byte { return nil }

func (enc *fecEncoder) encodeOOB(b []byte) {}
