module github.com/tetherhq/tether

go 1.26.8

require github.com/xtaci/smux v1.5.58
