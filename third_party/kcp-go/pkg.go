// Package kcp is a reliable UDP library for Go.
//
// It provides reliable, ordered, error-checked byte-stream delivery over UDP,
// with optional FEC and packet encryption. Its API is compatible with net.Conn
// while providing additional transport controls.
package kcp
