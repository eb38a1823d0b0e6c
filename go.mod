module github.com/tetherhq/tether

go 1.26.8

require github.com/xtaci/smux v1.5.58

require (
	github.com/BurntSushi/toml v1.6.0
	golang.org/x/crypto v0.59.0
)

require (
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/text v0.44.0 // indirect
)

replace github.com/xtaci/smux => ./third_party/smux
