module github.com/xtaci/kcp-go/v5

require (
	github.com/juju/ratelimit v1.0.2
	github.com/pion/transport/v5 v5.1.4
	github.com/pkg/errors v0.9.1
	github.com/tjfoc/gmsm v1.4.1
	golang.org/x/crypto v0.58.0
	golang.org/x/net v0.61.0
	golang.org/x/sys v0.49.0
)

require gopkg.in/check.v1 v1.0.0-20201130134442-10cb98267c6c // indirect

go 1.26.2
