// Package smux is a multiplexing library for Golang.
//
// It relies on an underlying connection to provide reliability and ordering, such as TCP
// or KCP, and provides stream-oriented multiplexing over a single channel.

package smux
