module github.com/tetherhq/tether

go 1.26.8

require github.com/xtaci/smux v1.5.58

require github.com/BurntSushi/toml v1.6.0
