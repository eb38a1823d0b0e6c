package edge

import (
	"log/slog"
	"testing"
)

// A reload's new endpoints carry their stats from plan on: setEndpoints
// makes their host names routable before apply, and a connection in that
// window counts on them (a nil there killed the edge). A replaced endpoint
// (same name, new host name) keeps counting on its series.
func TestPlanEndpointsHaveStats(t *testing.T) {
	cfg := &Config{Endpoints: []EndpointConfig{{Name: "db", Proto: "tls", Hostname: "db.example.com", Labels: map[string]string{"app": "db"}}}}
	s := &Server{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	s.metrics = newMetrics(s)
	s.eps = newGroupSet(s)
	s.install(cfg)
	old := s.eps.byName("db")
	old.stats.ok.Inc()

	p, err := s.eps.plan([]EndpointConfig{
		{Name: "db", Proto: "tls", Hostname: "db2.example.com", Labels: map[string]string{"app": "db"}},
		{Name: "cams", Proto: "tls", Hostname: "cams.example.com", Labels: map[string]string{"app": "cam"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.added) != 2 || len(p.removed) != 1 {
		t.Fatalf("plan: %d added, %d removed; want 2, 1", len(p.added), len(p.removed))
	}
	for _, e := range p.added {
		if e.stats == nil {
			t.Fatalf("planned endpoint %s has no stats before apply", e.cfg.Name)
		}
	}
	s.eps.apply(p)
	db := s.eps.byName("db")
	if db == old || db.stats != old.stats {
		t.Fatal("the replaced endpoint db does not count on its old series")
	}
	if _, ok := s.metrics.routes["db"]; !ok {
		t.Fatal("apply forgot the series of db, which the new config still has")
	}
}

// The round-robin counter wraps without a negative index on any int size.
func TestTurnPastInt32(t *testing.T) {
	e := &endpoint{}
	e.next.Store(1<<31 - 2)
	for i := 0; i < 8; i++ {
		if got := e.turn(3); got < 0 || got >= 3 {
			t.Fatalf("turn(3) = %d after %d picks", got, e.next.Load())
		}
	}
	e.next.Store(^uint64(0))
	if got := e.turn(3); got != int(^uint64(0)%3) {
		t.Fatalf("turn(3) at the top of the counter = %d", got)
	}
}
