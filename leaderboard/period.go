package leaderboard

import (
	"fmt"
	"time"
)

// allTimeLabel is the id of an AllTime board's keys. Periodic labels start
// with a digit, so none can equal it.
const allTimeLabel = "all"

// periodOf returns the label of the board of period p that holds t (in
// loc), and when that board's period starts and ends; both are the zero
// time for AllTime.
func periodOf(p Period, loc *time.Location, t time.Time) (label string, start, end time.Time) {
	t = t.In(loc)
	y, m, d := t.Date()
	switch p {
	case Daily:
		start = time.Date(y, m, d, 0, 0, 0, 0, loc)
		return start.Format("2006-01-02"), start, start.AddDate(0, 0, 1)
	case Weekly:
		start = time.Date(y, m, d-(int(t.Weekday())+6)%7, 0, 0, 0, 0, loc)
		year, week := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", year, week), start, start.AddDate(0, 0, 7)
	case Monthly:
		start = time.Date(y, m, 1, 0, 0, 0, 0, loc)
		return start.Format("2006-01"), start, start.AddDate(0, 1, 0)
	}
	return allTimeLabel, time.Time{}, time.Time{}
}
