"""Presence fusion, pure: every signal about one person in one store, folded into one state.

Nothing here reads a clock, a socket or the database: the caller passes the signals and `now`.
The same functions run in the ingest request, in the sweep and, on a virtual clock, in the
accuracy bench (`python -m bench accuracy`).

Signals: gateway readings (with the gateway's calibration offset and the place it watches),
the phone's reports of store beacons it heard (`BeaconReport`, from `POST /api/v1/me/sightings`)
and manual check-ins. Each source keeps one smoothed level; the raw estimate of where the
person is comes from the fresh levels (`locate`), and a state machine with hysteresis, minimum
dwell and a lost timeout turns raw estimates into states and events (`fuse`, `advance`).

States: `outside`, `walk-by`, `entrance`, `inside`, `zone` (with the zone's name) and `bay`
(with the bay's name). Events: `walk_by` (once the passer has gone by without entering),
`entered` (through the door, at a bay, past the door into in-store gateways' range, placed in
the store for long enough, or a check-in), `zone_entered`, `zone_dwell` (when `zone_dwell_s`
is reached while still in the zone, then with the total on leaving it), `curbside`,
`exited`; each with a confidence and its reasons. Time
alone decides some of them (a walk-by, a dwell, an exit): the caller runs `advance` on every
remembered state every second or so (the sweep; the bench each virtual second).

Every tunable is a field of `FusionParams`, with its reason.
"""

from __future__ import annotations

import typing
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

from store_server.presence import places
from store_server.presence.places import Belief, FilterParams
from store_server.vocabulary import PlaceKind, PresenceKind, PresenceState, ZoneKind

if typing.TYPE_CHECKING:
    from _typeshed import DataclassInstance

ARRIVAL_KINDS = (PlaceKind.ENTRANCE, PlaceKind.BAY)
VISIT_STATES = (PresenceState.ENTRANCE, PresenceState.INSIDE, PresenceState.ZONE, PresenceState.BAY)

# Reasons a signal is ignored (counted, returned in the batch answer).
IGNORED_FUTURE = "future_timestamp"
IGNORED_STALE = "stale_timestamp"
IGNORED_OUT_OF_ORDER = "out_of_order"
IGNORED_RSSI = "rssi_out_of_range"
# A received BLE signal lies within these (dBm): under -120 is below every receiver's
# sensitivity, above 0 a transmitter touching the antenna; anything else is a broken report.
RSSI_RANGE_DBM = (-120, 0)

# A later reading than this many seconds behind the person's last fused one is out of order:
# it says where they were, not where they are. Two gateway batch periods (1 s each) of slack, so
# interleaved batches of two gateways both count. (A rule on input validity, not a tunable.)
REORDER_TOLERANCE_S = 2.0
# Gateway and phone clocks are NTP-synchronised to well under a second; a reading more than five
# minutes off the server's clock is a broken clock or a replay, never evidence of presence.
MAX_CLOCK_SKEW_S = 300.0
# How a margin reads as a confidence: 0.5 at the threshold, 1.0 at 15 dB above it; several
# independent sources agreeing add 0.1 each (capped at 1). Presentation, not a decision.
BASE_CONFIDENCE = 0.5
FULL_CONFIDENCE_MARGIN_DB = 15.0
AGREEMENT_BONUS = 0.1


@dataclass(frozen=True)
class FusionParams(FilterParams):
    """Every tunable of fusion with its reason; `python -m bench accuracy --NAME X` sweeps any.

    Field names with dashes are the bench's flags (`--entry-evidence-db 14`). The filter's
    model of the radio and of how people move (`places.FilterParams`) is part of it.
    """

    # Decisions from the filter's belief (store_server/presence/places.py). A visit opens when
    # the probability of being in the store or at a bay reaches `enter_probability` (besides
    # the door's evidence and the bay rule below) and closes when it falls to
    # `exit_probability`: apart, so a belief wavering around one level does not flap.
    # Which decides, the filter's belief (1) or the state machine of thresholds below (0).
    # Both are measured on every scenario (docs/decisions.md, "A probabilistic filter"); the
    # better one is the default.
    filter_decisions: float = 0.0
    enter_probability: float = 0.9
    exit_probability: float = 0.1
    # During a visit the place shown is the most probable one, once it reaches
    # `place_switch_probability` while the current one has fallen under
    # `place_hold_probability` (hysteresis), and held for the minimum dwell.
    place_switch_probability: float = 0.6
    place_hold_probability: float = 0.3
    # A reading just absorbed counts as this many seconds of its source's evidence at once (a
    # gateway reports a device at most about once a second), so it moves the belief before
    # the next tick of the clock ...
    reading_s: float = 1.0
    # ... and the evidence of a longer gap between two updates counts at most this long: what
    # the sources said before the gap is not known to have held throughout it.
    max_evidence_step_s: float = 5.0

    # The entry threshold (calibrated dBm): the server's STORE_ENTRY_RSSI_DBM, about 3.5 m from
    # an antenna in free space (see store_server/settings.py).
    entry_rssi_dbm: float = -70.0
    # Arrival latency matters most (a pickup customer waits at the door), but a single reading
    # cannot tell a shopper stepping in from a passer on the pavement: passers 2.5-3.8 m from
    # the door gateway read -67..-71 dBm at their closest, and per-advert noise (4 dB of
    # shadowing plus fading; 8.7 dB on a harsh floor) lifts one advert in ten or twenty by 7 dB
    # or more. So each reading at the door adds its excess over a reference level to a running
    # sum (a CUSUM, the classic detector of a level that has risen), and the sum opens the visit
    # at `entry_evidence_db`. The reference sits between the two populations: a shopper walking
    # through the 2 m door passes within 0.6 m of its antenna (-55 dBm and up), a passer stays
    # 2.5 m or more away (-67 and down); entry + 4 dB is -66, where a passer's reading must
    # already be lucky.
    entry_reference_margin_db: float = 4.0
    # One reading this far above the threshold is sure by itself (-50 dBm, 0.3 m). One reading
    # at +10 dB (-60) let 8-16 % of passers in, at +12 dB still 3-5 %.
    entry_sure_margin_db: float = 20.0
    # The evidence the sum must reach: 16 dB is one advert at -50 dBm (0.3 m), two at -58 (1 m)
    # or three at -61 within `entry_confirm_window_s`. On busy-saturday it lets 0-1 % of
    # advertising passers through on the default channel and 10-18 % on a harsh one, at an
    # arrival p95 of 2-3 s; 14 dB let 0-1 % and 17-29 % through, 20 dB pushed the arrival p95
    # past 3 s (docs/decisions.md).
    entry_evidence_db: float = 16.0
    # The phone's own sightings of the beacon at the door add to the same sum: a shopper in the
    # doorway hears it at about -66 dBm, a passer through the glass front at -72 to -78. Midway,
    # -70, is the reference; each dB counts half a gateway's (its spread is wider, 6-7 dB
    # against 5, and the two populations lie closer: about 7 dB apart against 12).
    entrance_beacon_reference_dbm: float = -70.0
    entrance_beacon_weight: float = 0.5
    # Readings further apart than this do not add up: the sum restarts. Three adverts of a phone
    # in the foreground (1 s apart), enough to bridge a lost one; a passer takes longer than
    # that to walk past a door.
    entry_confirm_window_s: float = 3.0
    # A door watched from both sides (an entrance gateway on the pavement side, `Place.outside`)
    # tells the direction of passage, which one gateway per door cannot. The outside gateway
    # reads every passer at the doorway level, so its readings add nothing to the sum above;
    # instead the order counts: read at the doorway level (the entry threshold) by the outside
    # gateway, then, within `passage_window_s`, by the inside one at the threshold while the
    # outside one no longer reads her there (its latest reading is under the threshold, or it
    # has been silent `passage_silence_s` about a phone it reports every
    # `passage_report_gap_s` or more often: an entrance gateway reports every reading at the
    # threshold, about once a second, gateway/tracking.py AT_DOOR). Each such inside reading
    # adds its excess over the threshold to a sum of its own (restarting like the one above),
    # which opens the visit at `passage_evidence_db`. A passer is near the outside gateway
    # whenever the inside one reads him that strongly. Measured on door-pair, seeds 1-3,
    # default and harsh channel (docs/decisions.md, "Direction of passage"): evidence 4 let
    # 11 % of foreground passers in on one seed of the default channel, 8 none; a silence of
    # 1.5 s (instead of 0.9) missed the shopper the outside gateway last read a second before
    # the inside one did.
    passage_window_s: float = 5.0
    passage_silence_s: float = 0.9
    passage_report_gap_s: float = 1.5
    passage_evidence_db: float = 8.0
    # A source's level is current for this long: a steady device is reported every 10 s
    # (gateway keepalive, gateway/tracking.py REPORT_KEEPALIVE_S), an Android app in the
    # background advertises every 5 s, and one lost advert must not make the person vanish.
    evidence_ttl_s: float = 20.0
    # ... and a gateway's level only while its silence is shorter than the gateway's keepalive
    # plus this many of its usual gaps between reports: a gateway reports every device it
    # hears at least every `report_keepalive_s` (gateway/tracking.py REPORT_KEEPALIVE_S), so
    # a device reported every second and then not for 13 s has left its range (a car driving
    # off its bay: the curbside exit went from 36 s to 16 s), while one advertising every 5 s
    # keeps the full evidence_ttl_s. (Three gaps without the keepalive, at least 5 s, cost
    # early exits: a shopper holding still just inside the door is reported only on the
    # keepalive once her reading drops below the entry threshold.) A phone's beacon reports
    # live the other way: at least evidence_ttl_s, longer for a phone whose usual gap is long
    # (an Android app in the background scans 0.5 s every 10 s and misses a beacon now and
    # then: at 20 s such phones fell out of the store between two reports).
    silence_gaps: float = 3.0
    report_keepalive_s: float = 10.0
    # Smoothing of a source's level across its reports: each report moves the level half way,
    # so one faded reading (-10 dB) moves it 5 dB, two consistent ones 7.5 dB.
    level_smoothing: float = 0.5
    # Not heard at all for this long: gone, whatever the last place. Bermuda's default is 30 s;
    # Home Assistant's iBeacon integration waits 180 s and iOS region exit takes 10-30 s. 30 s
    # is above the longest normal silence of a present device (evidence TTL + a keepalive).
    lost_timeout_s: float = 30.0
    # Placed outside (weak at the door, no in-store evidence) for this long: left. Shorter than
    # the lost timeout because the evidence is positive (heard, and weak); long enough to ride
    # out a shopper's few seconds in the hysteresis band by the door.
    exit_after_s: float = 4.0
    # Hysteresis of the door: a person whose visit is open counts as in the store until the door
    # reading falls this far below the entry threshold (8 dB: about 2.5x the distance, n = 2).
    exit_hysteresis_db: float = 8.0
    # An in-store (zone or floor) gateway, or the in-store beacon a phone hears strongest,
    # places someone inside from this level up: the far
    # corners of the reference store read about -80 dBm at the floor gateway (11 m), the
    # pavement -84 or less through the glass front.
    inside_min_dbm: float = -84.0
    # During a visit someone stays placed inside down to this much under it (hysteresis): the
    # back corners of a store read -80..-92 dBm at a floor gateway through a pocket or a bag,
    # no more than at the door (busy-saturday: pocket phones at the dresses rail were "outside"
    # and their visit closed and reopened every 20-40 s); the door's dominance, not the level,
    # tells the pavement apart.
    inside_hold_db: float = 8.0
    # ... but not for this long after a reading in the doorway (the entry threshold at the
    # door): someone who walked out is on the pavement, and the pavement down the street reads
    # as weak as the back of the store. The lost timeout: by then the shopper who only came
    # to the door is placed inside again, the one who left is gone.
    door_passage_s: float = 30.0
    # ... and only when the door gateway is not this much stronger: right outside the door the
    # door gateway reads 12 dB or more above the floor gateway, anywhere inside less than 6 dB.
    door_dominance_db: float = 9.0
    # During a visit the door places someone at the entrance only from this far above the entry
    # threshold: the entrance is the doorway, within 2 m of the door gateway (-65 dBm), while
    # the threshold reaches 3.5 m, into the front of the store where shoppers browse. Once at
    # the entrance they stay until the level falls to the threshold (hysteresis of 6 dB).
    at_door_margin_db: float = 6.0
    # A phone that hears a zone's beacon this strongly is in that zone: about 3.5 m at n = 2
    # from a -59 dBm at 1 m beacon, a zone of the reference store being 6 m across with its
    # beacon in the middle. At -72 shoppers browsing just outside a zone counted as in it.
    beacon_near_dbm: float = -70.0
    # ... less what the carrier's body takes away: a phone in a pocket or a bag loses 3 dB
    # through the body on its open side and 8-12 dB behind it (firmware_sim.world.BODY_LOSS_DB,
    # after Ghaddar et al. 2007), so most of the phones shoppers carry hear a zone's beacon
    # 5-10 dB under what the path-loss model says. The allowance applies only to the beacon
    # the phone hears strongest (the nearest one: the body costs every beacon alike), so it
    # cannot put someone in a zone whose beacon is not the nearest they hear.
    beacon_body_loss_db: float = 8.0
    # A zone gateway's own zone, from this level up (about 3 m from the antenna).
    zone_gateway_dbm: float = -68.0
    # A zone (or the floor between zones) must hold this long before the state changes: a phone
    # lying still near a border hears both sides' beacons alternately stronger; five seconds is
    # several readings of either side. Entries and exits have their own rules.
    min_dwell_s: float = 5.0
    # ... and at least this many of the usual gaps between the reports of the slowest source
    # still placing them: a phone scanning in the background reports each beacon every 10 s or
    # so, and five seconds after one report the next has not come yet, so one stray reading
    # moved the person (busy-saturday: 80-85 flaps per stationary hour for background Android
    # phones). Two gaps: the new place heard twice. (Gateways' gaps do not count: a gateway
    # reports a steady device only on its keepalive.)
    dwell_gaps: float = 2.0
    # Someone placed inside (in-store gateway, door not dominant) this long without a door
    # reading strong enough has still entered: a phone advertising every 5 s is heard once or
    # not at all while crossing the door. Four such adverts; at 10 s passers placed inside by
    # chance got in.
    inside_entry_s: float = 20.0
    # ... but sooner when she came through the door: read in the doorway (the entry threshold)
    # by a door gateway inside the store, then, within `door_then_floor_window_s`, read by an
    # in-store gateway at `door_then_floor_dbm` or up and `door_then_floor_lead_db` above the
    # door gateway's latest reading, `door_then_floor_readings` times. An app advertising once
    # a second is read in the doorway once or twice while crossing it, short of the door's sum
    # (one advert at -62 and one at -57: 13 dB of the 16), and 2-6 s later she is deeper in
    # the store: the door gateway behind her reads her at -80..-95 (her body between them),
    # the floor gateway she walks towards at -72..-80. A passer near the door reads the door
    # gateway 10 dB and more above any in-store one, and the floor gateway through the glass
    # at -84 or less. (The door's latest reading, not its smoothed level: the level lags her
    # by seconds.) Measured on seeds 1-2 of the four reference stores, both channels
    # (docs/decisions.md, "Visit boundaries"): one leading reading let up to a third of one
    # harsh store's passers in; two at -82, up to a tenth; a window of 8 s let in a passer
    # whose floor link the harsh channel's shadowing lifted to -75..-79 on the pavement 7 s
    # after his doorway reading.
    door_then_floor_window_s: float = 6.0
    door_then_floor_dbm: float = -80.0
    door_then_floor_lead_db: float = 3.0
    door_then_floor_readings: float = 2.0
    # ... or, within `door_then_zone_window_s` of that doorway reading, the phone's own ear
    # (an app ranging in the foreground reports the beacons it hears every second or so):
    # a zone's beacon heard at `door_then_zone_dbm` or up (its smoothed level, the sighting
    # included) and `door_then_zone_lead_db` above the door's beacon (its latest sighting),
    # `door_then_floor_readings` times. A shopper
    # walking to a rail hears its beacon at -72..-50 while the door's beacon behind her fades
    # to -80..-95; a window shopper hears a zone beacon through the glass, if ever that
    # strongly, no stronger than the door's beacon next to her. Zone beacons only: a floor
    # beacon may hang by the shop window (busy-saturday's till, 2 m from the glass). Measured
    # on seeds 1-2 of the four reference stores, both channels (docs/decisions.md, "The
    # phone's ear after the doorway"): no passer more; a window of 6-8 s instead of 10 left
    # busy-saturday's foreground p95 at 24 s, a level of -70 most stores' at 22-25 s, a
    # floor beacon counted let 4 more of 124 passers in on curbside-bays' harsh channel. The
    # sighting alone instead of the level let 3 of 27 foreground passers in on curbside-bays'
    # harsh seed 3 (the shoes beacon, 11 m in, heard at -69 and -71 through the glass after
    # -87..-93): it gave busy-saturday's harsh foreground p95 9.8 s instead of 24.5. A zone
    # beacon's lead and an in-store gateway's lead add up (one of each is two witnesses), and
    # the window is 15 s: a shopper walking 10 m to a rail at the back hears its beacon at
    # -72 or up only on arriving, 8-11 s after the doorway (busy-saturday seed 1's foreground
    # p95 24.5 -> 15.5 s on both channels, no passer more on the four reference stores and two
    # unseen ones; 20 s changed nothing more; docs/decisions.md, "Door then zone, wider").
    door_then_zone_window_s: float = 15.0
    door_then_zone_dbm: float = -72.0
    door_then_zone_lead_db: float = 6.0
    # A zone change also needs the new zone this much stronger than the current one, and the
    # current zone holds until its evidence falls this far below the level that places someone
    # in a zone (hysteresis). 3 dB let shoppers standing at a zone's edge flap (7-11 flaps per
    # stationary hour on busy-saturday); 7 dB brings that to 2-3 on the default channel.
    zone_switch_margin_db: float = 7.0
    # A zone holds while the person is placed outside only because the zone's beacon has gone
    # unheard (the door far and not passed, other sources still heard), for this many of the
    # phone's usual gaps between sightings of it: a phone in a pocket scanning every 10 s
    # misses its zone's beacon two or three scans in a row (busy-saturday: zone <-> floor
    # flaps, 40-60 per stationary hour for background and cached Android), while a phone
    # ranging every second that stops hearing it has left. (A flat 45 s cut these flaps by a
    # third but held foreground phones in zones they had left: zone accuracy 0.77 -> 0.65.)
    # Gateways do not count: they report a still device only on their keepalive, and their
    # silence means a change.
    zone_silence_gaps: float = 4.0
    # Against a mere floor estimate (an in-store source hears her, no zone does, not the
    # doorway) her zone holds for as long as this while its beacon, last heard at the zone's
    # holding level, has not been heard since, whatever the phone's gaps: a pocket or a bag
    # between the phone and the beacon takes 8-12 dB (firmware_sim.world.BODY_LOSS_DB), and a
    # phone scanning every 10 s at the rail then misses its beacon for minutes (busy-saturday
    # seed 1: shopper-024 at the dresses rail, 150 s without one sighting of its beacon, the
    # door's beacon at -90..-99 meanwhile); held for only `zone_silence_gaps` of her scans,
    # she went to the floor and back (background Android 35 flaps per stationary hour, 22
    # with this hold). Leaving the zone is told by evidence, not by silence: its beacon heard
    # weak, another zone's beacon, the doorway placing her (a door passage that supersedes
    # older readings is not enough by itself: one door-gateway reading of a pocket phone 7 m
    # away faded up to the entry threshold, -66, and took her out of her zone). A phone
    # ranging every second that walks away keeps hearing it, weaker. Five minutes: a long
    # stop at a rail (busy-saturday's lingering shoppers stay 5-10 min); 30 scans or no limit
    # gave the same figures (docs/decisions.md).
    zone_silence_hold_s: float = 300.0
    # ... for a phone that hears its zone's beacon seldom (its usual gap between sightings of
    # it this long or more, or unknown). A phone scanning or ranging continuously in the
    # foreground hears a 1 s beacon every second or two: its silence for `zone_silence_gaps`
    # of those, or a door passage since, is evidence that she left, as before (held like a
    # pocket phone, foreground Android's zone accuracy fell 0.795 -> 0.768 on busy-saturday
    # seed 3, default channel: walking from a rail to the door).
    zone_silence_sparse_gap_s: float = 3.0
    # A zone her phone's beacon sightings place her in is confirmed once it has reported this
    # many sightings of the zone's beacon since (and `min_dwell_s` has passed), not only after
    # `dwell_gaps` of its slowest beacon's gaps: a pocket phone scanning every 10 s that
    # walked to a rail was shown there 20-60 s later (its slowest beacon, the door's far away,
    # heard every 20-30 s), and her zone accuracy and `zone_dwell` lagged that much. Two: one
    # stray sighting still moves no one. 0: the old rule alone.
    zone_confirm_sightings: float = 2.0
    # In a zone this long: `zone_dwell` fires while the shopper is still there (a dwell campaign
    # reaches her at the rail), and again with the total when she leaves. A minute at a rail is
    # the usual "interested" mark (the accuracy bench's dwell threshold); a campaign asking
    # for less matches this event, one asking for more matches the total on leaving.
    zone_dwell_s: float = 60.0
    # A check-in ("I'm here, bay 3") places the shopper for this long unless later readings
    # move them.
    check_in_ttl_s: float = 120.0
    # A manual check-in is the shopper's own word: high confidence, but a phone can be tapped
    # from afar.
    check_in_confidence: float = 0.9
    # Heard at a door or bay gateway at least this strongly: near the shop front (about 14 m at
    # n = 2: the pavement in front of the shop window). Someone near it who never enters is a
    # walk-by ...
    walk_by_min_dbm: float = -82.0
    # ... once no door or bay gateway has heard them that strongly for this long: they have
    # gone by. A present device is reported at least every 10 s (the gateway's keepalive) and
    # a phone in the background advertises every 5 s, adverts get lost: 20 s, the evidence's
    # life. At 10 s, 7-8 % of walk_by events on busy-saturday (seed 1) went to people who
    # entered within a minute; at 20 s, 2 % (walk-by event precision 0.93 -> 0.98).
    walk_by_gone_s: float = 20.0
    # ... and no in-store gateway has read them at `inside_min_dbm` or up for as long: a
    # pocket phone that came in and stands at a rail is read by the floor gateway at -77..-90
    # and by the door's at -85..-100 (under `walk_by_min_dbm`) while her entry waits for the
    # inside hold, and a `walk_by` then went to her (busy-saturday seed 1: walk-by event
    # precision 0.966). A passer reads the floor gateway through the glass at -84 or less.
    # A bay is a parking space several metres across, watched by a gateway on the facade: a car
    # waiting in it is nearer that gateway than any other, however weakly a phone in a bag in a
    # car is heard (-81 to -89 dBm at the post on curbside: an absolute floor of -80 kept it
    # out). So the bay is where the person is when its gateway reads them at least
    # `bay_lead_db` above every other gateway hearing them (a gateway not hearing them counts
    # at `unheard_dbm`, a receiver's sensitivity), the way the nearest-gateway rules decide
    # (Bermuda's nearest area with its challenger hysteresis). Measured on curbside and
    # curbside-bays, seeds 1-3, default and harsh channel, against the -80 floor: lead 2 dB /
    # hold 6 dB gave bay right (medians) 1.0 / 0.98 and 0.66 / 0.54, where lead 3 / hold 3
    # gave 0.99 / 0.55 and 0.48 / 0.39 (a car rolling past a neighbour's post held there) ...
    bay_lead_db: float = 2.0
    unheard_dbm: float = -100.0
    # ... one bay held this long, and heard again after it, before it opens a visit: a car
    # rolls into its bay in a few seconds and waits minutes; a pedestrian walking along the
    # kerb is nearest to one bay's post after another, 3-4 s each. On curbside-bays (posts at
    # the pavement's edge) 3 s let 20 % of passers in, 5 s 15 %, 8 s 2 % at a bay-arrival p95
    # of 9-140 s: 5 s keeps the arrival within the goal and leaves the rest to a car tag's
    # or the app's evidence (docs/decisions.md).
    bay_arrival_s: float = 5.0
    # ... at a steady level: the hold restarts when the bay gateway's level moves this far from
    # where it stood when the hold began. A car waits in its bay at one level (its smoothed
    # level wanders 2-4 dB); a pedestrian walks past the post at arm's length (-55..-61 dBm
    # on curbside-bays, whose posts stand 0.9 m from the pavement's walking line), rising
    # and fading 15-20 dB, and stays nearest to it for 8 s and more while walking on towards
    # the door (the bay next to the door has no other post on that side): on curbside-bays
    # 18-36 % of advertising passers arrived "at bay-1". Seeds 1-2, both channels
    # (docs/decisions.md, "The phone's ear after the doorway"): 6 dB brought them to
    # 5-13 %, 9 dB to 10-19 %; a fade under the level's peak instead (10-14 dB) to 16-31 %;
    # the price is a car rolling in whose level settles slowly (bay arrival p95 of
    # android-background drivers 8 -> 16 s on the default channel).
    bay_steady_db: float = 6.0
    # Once at a bay, they stay there until another gateway reads them this much above the
    # bay's (hysteresis: a still car's levels spread 2-3 dB, 8.7 dB of shadowing on a harsh
    # channel; the same 6 dB the -80 floor rule held with).
    bay_hold_db: float = 6.0

    # An iPhone with the app in the background is heard only when Core Location wakes it on
    # entering or leaving the store's iBeacon region (docs/protocol.md, `region`): it then
    # ranges about 10 s and sleeps. Region entry fires at the first advert heard, 20-30 m down
    # the pavement, so it cannot tell a shopper from a passer; a passer's region is left again
    # 40-75 s later (busy-saturday, seeds 1-2, default and harsh channel: the time to walk out
    # of range plus iOS's 10-30 s exit delay). Still in the region this long, with the app in
    # the background: she has stopped at the store, an entry.
    region_entry_s: float = 90.0
    # ... with this confidence (lingering by the shop front for as long reads the same).
    region_entry_confidence: float = 0.6
    # Leaving the region is the phone's own word that no store beacon has been heard for
    # 10-30 s: the visit closes at once, unless a gateway still hears her (a tag, a phone that
    # advertises).
    region_exit_confidence: float = 0.9
    # While in the region with the app asleep, her silence is not absence: the visit holds
    # until the region is left, at most this long (a phone switched off never reports the exit).
    region_hold_s: float = 4 * 3600.0

    # A phone that only reports beacons (no gateway hears it) and ranges them every second or
    # so (an iPhone with the app in the foreground, or woken by its region) comes through the
    # door like an advertising phone past the door gateway: it hears the door's beacon in the
    # doorway (at `ear_doorway_dbm` or up), then, within `ear_then_floor_window_s`, an in-store
    # beacon (a zone's or the floor's) at `ear_then_floor_dbm` or up and
    # `ear_then_floor_lead_db` above the door beacon's latest sighting,
    # `ear_then_floor_readings` times: her body is between the phone and the door behind her
    # (busy-saturday seed 1, an iPhone in hand: the door's beacon -62..-75 in the doorway, 2-5 s
    # later -86..-94 while the dresses' beacon reads -74..-81). The doorway level is lower than
    # the door CUSUM's reference (-70): Core Location averages each second's samples, and a
    # phone in hand crossing the door 1.6 m from the beacon read -71..-75 in half the traces.
    # Measured on the four reference stores, seeds 1-2, both channels (docs/decisions.md,
    # "Phones that only report beacons enter"): two leading sightings within 6 s let 19 of 164
    # foreground-iPhone passers in (4 before); three within 8 s, 6.
    ear_doorway_dbm: float = -74.0
    ear_then_floor_window_s: float = 8.0
    ear_then_floor_dbm: float = -82.0
    ear_then_floor_lead_db: float = 3.0
    ear_then_floor_readings: float = 3.0
    # Placed in the store by such a phone's own ear (`locate`: an in-store beacon heard from
    # in-store range, the door's not dominating) for this long, and heard again after it, is an
    # entry, instead of `inside_entry_s`: that hold is four adverts of a phone advertising
    # every 5 s, while a phone ranging every second has reported eight times by then. Same
    # stores and seeds: 8 s let no more passers in than 20 s (4 of 164 foreground, 0 of 812
    # background iPhones), 6 s one more, 4 s seven more.
    ear_inside_entry_s: float = 8.0
    # Both only for a phone that ranges every second: no gateway hears it, and a beacon of
    # it is reported every half to one `ear_ranging_gap_s` (Core Location hands over each
    # beacon once a second). An Android app the OS has cached hears the door's beacon once or
    # twice in a 0.5 s scan every 10 s: its smoothed gap stays above 2 s once a scan period
    # is in it, but at 3 s it passed for ranging, and the first gap of its door beacon (two
    # adverts 0.35 s apart in one scan) passed at 1.5 s without the lower bound (busy-saturday
    # seed 2: a passer whose scan on the pavement heard the till's beacon at -84 was let in).
    # Leads closer than half of it are one callback's (or one scan's) and count once.
    ear_ranging_gap_s: float = 1.5


@dataclass(frozen=True)
class Place:
    """What a gateway or beacon watches: its kind (entrance, zone, bay, floor) and zone name.

    `outside`: an entrance's gateway or beacon mounted on the pavement side of the door (a door
    watched from both sides): it hears passers as well as it hears shoppers at the door, so it
    says where someone came from, never by itself that she stepped in (see `_passage_excess`).
    """

    kind: PlaceKind
    name: str | None = None
    outside: bool = False


def zone_place(kind: str | None, name: str | None) -> Place:
    """The place a gateway's or beacon's store zone stands for (no zone: the floor)."""
    if kind is None:
        return Place(PlaceKind.FLOOR)
    if kind == ZoneKind.DOOR_OUTSIDE:
        return Place(PlaceKind.ENTRANCE, name, outside=True)
    return Place(PlaceKind(kind), name)


@dataclass(frozen=True)
class GatewayReading:
    """One reading of a person's device (app EID or registered tag) by one gateway."""

    gateway_id: str
    place: Place
    rssi: int
    rssi_offset_db: float
    seen_at: float
    signal: str = "eddystone_eid"  # eddystone_eid | customer_tag
    detail: str | None = None  # a registered tag's label ("car tag"), shown to staff

    @property
    def calibrated_rssi(self) -> float:
        """RSSI corrected by the gateway's calibration offset."""
        return self.rssi + self.rssi_offset_db


@dataclass(frozen=True)
class BeaconReport:
    """The person's phone heard a store beacon (reported by the app)."""

    beacon_id: str
    place: Place
    rssi: int
    seen_at: float


@dataclass(frozen=True)
class CheckIn:
    """The shopper said "I'm here" (optionally where: a bay) on the shopper page."""

    place: Place
    seen_at: float


# The app's state and Core Location's region events, as the phone reports them.
APP_FOREGROUND = "foreground"
APP_BACKGROUND = "background"
REGION_ENTER = "enter"
REGION_EXIT = "exit"


@dataclass(frozen=True)
class PhoneReport:
    """What the app said of itself with a report: its state, and the region event that woke it
    (`enter` or `exit` of the store's iBeacon region, at `seen_at`), if any."""

    seen_at: float
    app_state: str | None = None  # APP_FOREGROUND | APP_BACKGROUND
    region: str | None = None  # REGION_ENTER | REGION_EXIT


# What places someone (absorbed as evidence), and every signal fusion takes.
Reading = GatewayReading | BeaconReport | CheckIn
Signal = Reading | PhoneReport


@dataclass(frozen=True)
class Evidence:
    """The current, smoothed word of one source about a person."""

    source: str  # gateway:<id> | beacon:<id> | check_in
    signal: str  # eddystone_eid | customer_tag | phone_beacon | check_in
    place: Place
    level: float  # calibrated dBm (0 for a check-in)
    last_rssi: float
    at: float
    detail: str | None = None
    gap: float | None = None  # smoothed seconds between this source's reports

    def fresh(self, params: FusionParams, now: float) -> bool:
        """Whether this evidence still says where the person is at `now` (see silence_gaps)."""
        silence = now - self.at
        if self.gap is None:
            return silence <= params.evidence_ttl_s
        if not self.source.startswith("gateway:"):
            # A phone that hears beacons only in its scan windows (an Android app in the
            # background: 0.5 s every 10 s) reports each one seldom; its silence means
            # something only once several of its usual gaps have passed.
            return silence <= max(params.evidence_ttl_s, params.silence_gaps * self.gap)
        limit = params.report_keepalive_s + params.silence_gaps * self.gap
        if self.place.kind in ARRIVAL_KINDS and self.last_rssi >= params.entry_rssi_dbm:
            # At a door or bay gateway's entry threshold every reading is reported (gateway
            # tracking AT_DOOR), without waiting for a keepalive: not heard again there within
            # a few of her gaps, she has left the doorway.
            limit = params.silence_gaps * self.gap
        return silence <= min(params.evidence_ttl_s, limit)

    def reason(self) -> dict[str, Any]:
        """The evidence as a reason staff and the event log can read."""
        out: dict[str, Any] = {"signal": self.signal}
        if self.signal != "check_in":
            out["rssi"] = round(self.last_rssi)
        if self.source.startswith("gateway:"):
            out["gateway"] = self.source.removeprefix("gateway:")
        elif self.source.startswith("beacon:"):
            out["beacon"] = self.source.removeprefix("beacon:")
        if self.place.name:
            out["place"] = self.place.name
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class Estimate:
    """Where the evidence puts the person right now, before hysteresis."""

    state: PresenceState
    place: str | None
    confidence: float
    reasons: tuple[dict[str, Any], ...]
    level: float = 0.0


@dataclass(frozen=True)
class PresenceEvent:
    """Something staff, campaigns and the event log should know."""

    kind: PresenceKind
    place: str | None
    at: float
    confidence: float
    reasons: tuple[dict[str, Any], ...]
    dwell_s: float | None = None


@dataclass(frozen=True)
class PersonState:
    """Everything fusion remembers of one person in one store."""

    state: PresenceState = PresenceState.OUTSIDE
    place: str | None = None
    since: float = 0.0
    visit_open: bool = False
    entered_at: float | None = None
    last_heard_at: float | None = None
    evidence: tuple[Evidence, ...] = ()
    confidence: float = 0.0
    reasons: tuple[dict[str, Any], ...] = ()
    # Since when the evidence has placed the person somewhere else than `state` (during a visit)
    # or in the store (before one): the minimum dwell and the inside and bay entries count
    # from it.
    placed_elsewhere_since: float | None = None
    outside_since: float | None = None
    door_evidence: float = 0.0  # dB of excess summed over recent door readings (entry_*)
    door_evidence_at: float | None = None
    # The direction of passage (passage_*): the last reading at the doorway level by a source
    # outside the door, and the inside door gateway's excess summed since she left it.
    outside_door_at: float | None = None
    passage_evidence: float = 0.0
    passage_evidence_at: float | None = None
    # Door then floor (door_then_floor_*): her last reading in the doorway by an inside door
    # gateway before a visit, and the in-store readings leading the door since.
    doorway_at: float | None = None
    floor_leads: int = 0
    zone_leads: int = 0  # zone beacons' sightings leading the door's (door_then_zone_*)
    # The shop front heard them (walk_by_min_dbm) first and last, and how strongly at most.
    near_door_since: float | None = None
    near_door_at: float | None = None
    near_door_peak: float | None = None
    in_store_at: float | None = None  # an in-store gateway read them at inside_min_dbm or up
    pending_bay: str | None = None  # the bay placing them since placed_elsewhere_since
    pending_bay_level: float | None = None  # its gateway's level then (bay_steady_db)
    # The last reading saying they were in the doorway (see `_holds_inside`).
    door_passed_at: float | None = None
    walk_by_reported: bool = False
    dwell_reported: bool = False  # zone_dwell already fired during this stay in the zone
    # The zone the evidence has placed her in since `zone_placed_since`, during a visit, while
    # she is shown elsewhere: once the minimum dwell confirms it, her stay there counts from
    # then (see `_enter_place`).
    zone_placed: str | None = None
    zone_placed_since: float | None = None
    # ... and how many sightings of its beacon the phone has reported since (the last at
    # `zone_placed_heard_at`): see `zone_confirm_sightings`.
    zone_placed_heard: int = 0
    zone_placed_heard_at: float | None = None
    belief: Belief = field(default_factory=Belief)  # where they are, as probabilities
    # The phone's app state as last reported, and since when it has been in the store's
    # iBeacon region (None: not in it, or never told).
    app_state: str | None = None
    region_since: float | None = None
    # Door then floor by the phone's ear (ear_then_floor_*): her last sighting of the door's
    # beacon in the doorway before a visit, and the in-store sightings leading it since.
    ear_doorway_at: float | None = None
    ear_leads: int = 0
    ear_lead_at: float | None = None


@dataclass(frozen=True)
class Fused:
    """What folding signals in produced: the new state, its events, the ignored signals."""

    state: PersonState
    events: list[PresenceEvent]
    ignored: Counter[str] = field(default_factory=Counter)


_Record = TypeVar("_Record", bound="DataclassInstance")
_field_names: dict[type, frozenset[str]] = {}


def replace(record: _Record, /, **changes: Any) -> _Record:
    """`dataclasses.replace` for fusion's frozen records (none has `__post_init__` or a field
    outside `__init__`), in an eighth of its time: a copy of the record's fields with the
    changes, without `__init__`'s per-field arguments and frozen `object.__setattr__` calls.
    Fusion copies its `PersonState` a few times per reading (docs/decisions.md,
    "Fusion per reading")."""
    cls = type(record)
    names = _field_names.get(cls)
    if names is None:
        names = _field_names[cls] = frozenset(f.name for f in fields(record))
    if not names.issuperset(changes):
        unknown = ", ".join(sorted(set(changes) - names))
        raise TypeError(f"{cls.__name__} has no field {unknown}")
    copy = object.__new__(cls)
    values = copy.__dict__
    values.update(record.__dict__)
    values.update(changes)
    return copy


def signal_time(signal: Signal) -> float:
    """When a signal was observed."""
    return signal.seen_at


def _source(signal: Signal) -> tuple[str, str]:
    """Whose word a signal is: the source (a gateway, a beacon the phone heard, the shopper's
    check-in) and the transmitter it heard. One person may carry two transmitters (her phone's
    EID and a registered tag) that the same gateway hears 10-20 dB apart: each is its own
    evidence, smoothed and ordered on its own."""
    if isinstance(signal, GatewayReading):
        return f"gateway:{signal.gateway_id}", signal.signal
    if isinstance(signal, BeaconReport):
        return f"beacon:{signal.beacon_id}", "phone_beacon"
    if isinstance(signal, PhoneReport):
        return "phone", "phone"
    return "check_in", "check_in"


def clock_skew_reason(seen_at: float, now: float) -> str | None:
    """Why a timestamp this far from the server's clock `now` must be ignored, or None."""
    if seen_at > now + MAX_CLOCK_SKEW_S:
        return IGNORED_FUTURE
    if seen_at < now - MAX_CLOCK_SKEW_S:
        return IGNORED_STALE
    return None


def rssi_reason(rssi: float) -> str | None:
    """Why a reading this strong or weak must be ignored (no radio reads it), or None."""
    return None if RSSI_RANGE_DBM[0] <= rssi <= RSSI_RANGE_DBM[1] else IGNORED_RSSI


def check_signal(state: PersonState, signal: Signal, now: float) -> str | None:
    """Why a signal must be ignored (impossible RSSI, far from the server clock, out of order)."""
    if isinstance(signal, GatewayReading | BeaconReport):
        impossible = rssi_reason(signal.rssi)
        if impossible is not None:
            return impossible
    at = signal.seen_at
    skew = clock_skew_reason(at, now)
    if skew is not None:
        return skew
    if state.last_heard_at is not None and at < state.last_heard_at - REORDER_TOLERANCE_S:
        return IGNORED_OUT_OF_ORDER
    source, kind = _source(signal)
    for e in state.evidence:
        if e.source == source and e.signal == kind:
            return IGNORED_OUT_OF_ORDER if at < e.at else None
    return None


def _absorb(
    evidence: tuple[Evidence, ...], signal: Reading, params: FusionParams
) -> tuple[Evidence, ...]:
    source, kind = _source(signal)
    previous = None
    others = []  # one pass: this runs once per reading
    for e in evidence:
        if e.source != source or e.signal != kind:
            others.append(e)
        elif previous is None:
            previous = e
    if isinstance(signal, CheckIn):
        return (*others, Evidence(source, kind, signal.place, 0.0, 0.0, signal.seen_at))
    detail = None
    if isinstance(signal, GatewayReading):
        rssi, detail = signal.calibrated_rssi, signal.detail
    else:
        rssi = float(signal.rssi)
    level, gap = rssi, None
    if previous is not None and signal.seen_at - previous.at <= params.evidence_ttl_s:
        level = previous.level + params.level_smoothing * (rssi - previous.level)
        since = signal.seen_at - previous.at
        gap = since if previous.gap is None else previous.gap + 0.5 * (since - previous.gap)
    return (
        *others,
        Evidence(source, kind, signal.place, level, rssi, signal.seen_at, detail, gap),
    )


def _confidence(margin_db: float, sources: int = 1) -> float:
    share = min(1.0, max(0.0, margin_db) / FULL_CONFIDENCE_MARGIN_DB)
    value = BASE_CONFIDENCE + (1 - BASE_CONFIDENCE) * share + AGREEMENT_BONUS * (sources - 1)
    return round(min(1.0, value), 2)


def _bay_estimate(
    gateways: list[Evidence], params: FusionParams, current_bay: str | None
) -> Estimate | None:
    """The nearest-gateway rule of bays: at a bay while its gateway leads every other gateway
    hearing them by `bay_lead_db`; the bay they are at holds until another gateway reads
    `bay_hold_db` above it (hysteresis). No absolute floor: a gateway's lead is what places.
    """
    if not gateways:
        return None

    def rival(of: Evidence) -> Evidence | None:
        return max((e for e in gateways if e is not of), key=lambda e: e.level, default=None)

    held = next(
        (e for e in gateways if e.place.kind == PlaceKind.BAY and e.place.name == current_bay),
        None,
    )
    nearest = max(gateways, key=lambda e: e.level)
    chosen: Evidence | None = None
    if held is not None:
        other = rival(held)
        if other is None or other.level < held.level + params.bay_hold_db:
            chosen = held
    if chosen is None and nearest.place.kind == PlaceKind.BAY:
        other = rival(nearest)
        level = params.unheard_dbm if other is None else other.level
        if nearest.level >= level + params.bay_lead_db:
            chosen = nearest
    if chosen is None:
        return None
    other = rival(chosen)
    lead = chosen.level - (params.unheard_dbm if other is None else other.level)
    reasons = (chosen.reason(),) + (() if other is None else (other.reason(),))
    return Estimate(PresenceState.BAY, chosen.place.name, _confidence(lead), reasons, chosen.level)


def _transmitter(evidence: tuple[Evidence, ...], params: FusionParams, now: float) -> str | None:
    """Which of her transmitters the gateways' evidence is read from, when they hear two (her
    phone's EID and a registered tag), or None when they hear one.

    A tag reads 10-20 dB above a phone in a pocket at the same gateway: the door's reading of
    one against the floor's of the other says nothing of where she is (a shopper by the
    floor gateway was put on the pavement because the door heard her tag louder than the floor
    heard her phone). The transmitter more gateways hear freshly places her; on a tie, the one
    heard strongest (the one heard last would alternate reading by reading)."""
    first: str | None = None
    mixed = False
    for e in evidence:
        if e.source.startswith("gateway:"):
            if first is None:
                first = e.signal
            elif e.signal != first:
                mixed = True
                break
    if not mixed:
        return None
    heard: dict[str, tuple[int, float]] = {}
    for e in evidence:
        if e.source.startswith("gateway:") and e.fresh(params, now):
            count, strongest = heard.get(e.signal, (0, float("-inf")))
            heard[e.signal] = (count + 1, max(strongest, e.level))
    return max(heard, key=lambda kind: heard[kind]) if heard else None


def locate(
    evidence: Iterable[Evidence],
    params: FusionParams,
    now: float,
    visit_open: bool,
    current_zone: str | None = None,
    at_entrance: bool = False,
    current_bay: str | None = None,
    hold_inside: bool = False,
    passed_at: float | None = None,
) -> Estimate:
    """Where the fresh evidence puts the person at `now`.

    Args:
        current_zone: the zone the person is in now, if any: it holds until its evidence falls
            `zone_switch_margin_db` below the level that places someone in a zone (hysteresis).
        at_entrance: whether the person is placed at the entrance now: they stay there until
            the door's level falls to the entry threshold (`at_door_margin_db` of hysteresis).
        current_bay: the bay the person is at now, if any (`bay_hold_db` of hysteresis).
        hold_inside: the person is placed in the store and has not passed the door since: they
            stay inside down to `inside_hold_db` under `inside_min_dbm` (see `_holds_inside`).
        passed_at: during a visit, when the person was last in the doorway: what in-store
            sources said before that is superseded (she has walked from there to the door; a
            pocket phone's zone beacon, heard every 10-30 s, held her in the zone for half a
            minute after she had left the store).
    """
    # One pass sorts the fresh evidence (what `passed_at` supersedes left out) by source and
    # place: `locate` runs once per reading. The strongest of each kind is the first of the
    # strongest, as `max` picks it.
    check_in: Evidence | None = None
    gateways: list[Evidence] = []
    in_store: list[Evidence] = []
    beacons: list[Evidence] = []
    door: Evidence | None = None  # gateways
    floor: Evidence | None = None
    nearest_beacon: Evidence | None = None  # beacons the phone heard
    in_store_beacon: Evidence | None = None
    door_beacon = float("-inf")
    at_bay = False
    evidence = tuple(evidence)
    transmitter = _transmitter(evidence, params, now)
    for e in evidence:
        if check_in is None and e.signal == "check_in" and now - e.at <= params.check_in_ttl_s:
            check_in = e
        kind = e.place.kind
        if not e.fresh(params, now) or (
            passed_at is not None and kind not in ARRIVAL_KINDS and e.at < passed_at
        ):
            continue
        if e.signal == "phone_beacon":
            beacons.append(e)
            if nearest_beacon is None or e.level > nearest_beacon.level:
                nearest_beacon = e
            if kind in ARRIVAL_KINDS:
                door_beacon = max(door_beacon, e.level)
            elif in_store_beacon is None or e.level > in_store_beacon.level:
                in_store_beacon = e
        if not e.source.startswith("gateway:") or (
            transmitter is not None and e.signal != transmitter
        ):
            continue
        gateways.append(e)
        if kind == PlaceKind.ENTRANCE:
            if door is None or e.level > door.level:
                door = e
        elif kind == PlaceKind.BAY:
            at_bay = True
        else:
            in_store.append(e)
            if floor is None or e.level > floor.level:
                floor = e
    entry = params.entry_rssi_dbm
    # The shopper's own word, until a gateway hears them anew.
    if check_in is not None and all(e.at <= check_in.at for e in gateways):
        state = {PlaceKind.BAY: PresenceState.BAY, PlaceKind.ZONE: PresenceState.ZONE}.get(
            check_in.place.kind, PresenceState.ENTRANCE
        )
        return Estimate(
            state, check_in.place.name, params.check_in_confidence, (check_in.reason(),)
        )
    # Only a bay's gateway places someone at a bay.
    bay = _bay_estimate(gateways, params, current_bay) if at_bay else None
    if bay is not None:
        return bay
    # The door: the latest reading there is strong.
    # Before a visit the latest reading decides (arrival latency); during one the smoothed level
    # (hysteresis: one faded reading does not move the person).
    strongest = None if door is None else (door.level if visit_open else door.last_rssi)
    door_entry = entry
    if visit_open and not at_entrance:
        door_entry = entry + params.at_door_margin_db
    if door is not None and strongest is not None and strongest >= door_entry:
        return Estimate(
            PresenceState.ENTRANCE,
            door.place.name,
            _confidence(strongest - entry),
            (door.reason(),),
            strongest,
        )

    # A zone: the phone hears its beacon close by, or the zone's own gateway is close.
    zone = (
        _nearby_zone(beacons, in_store, nearest_beacon, params, current_zone)
        if beacons or in_store
        else None
    )
    if zone is not None:
        return zone
    # On the floor: an in-store gateway hears the person, and the door does not dominate.
    # During a visit the level may fall `inside_hold_db` lower (hysteresis): a phone in a
    # pocket at the back of the store reads -80..-92 at a floor gateway 7 m away, no more than
    # at the door, and that is a shopper browsing, not one on the pavement (who reads the door
    # 10 dB and more above the floor).
    inside_min = params.inside_min_dbm - (params.inside_hold_db if hold_inside else 0.0)
    door_level = door.level if door is not None else float("-inf")
    if (
        floor is not None
        and floor.level >= inside_min
        and floor.level >= door_level - params.door_dominance_db
    ):
        reasons = (floor.reason(),) + ((door.reason(),) if door is not None else ())
        return Estimate(
            PresenceState.INSIDE,
            None,
            _confidence(floor.level - inside_min),
            reasons,
            floor.level,
        )
    # In the store by the phone's own ear: the in-store beacon it hears strongest (a zone's or
    # the floor's) is heard from in-store range and the door's beacon does not dominate it,
    # the same rule as the gateways' (a passer hears the door's beacon 10 dB and more above
    # any in-store one through the glass; a shopper at the back hears them alike, both weak).
    # A phone that only reports beacons (an iPhone, an Android app the OS has cached) has no
    # gateway evidence. During a visit the door's beacon counts too (its hysteresis band:
    # someone at the front of the store hears it strongest), until it fades out of range.
    by_ear = None
    if (
        in_store_beacon is not None
        and in_store_beacon.level >= inside_min
        and in_store_beacon.level >= door_beacon - params.door_dominance_db
    ):
        by_ear = in_store_beacon
    elif visit_open and nearest_beacon is not None and nearest_beacon.level >= inside_min:
        by_ear = nearest_beacon
    if by_ear is not None:
        return Estimate(
            PresenceState.INSIDE,
            None,
            _confidence(by_ear.level - inside_min),
            (by_ear.reason(),),
            by_ear.level,
        )
    # The door's hysteresis band: still in the store until the door reading clearly falls.
    if visit_open and door is not None and door.level >= entry - params.exit_hysteresis_db:
        margin = door.level - (entry - params.exit_hysteresis_db)
        return Estimate(
            PresenceState.INSIDE, None, _confidence(margin), (door.reason(),), door.level
        )
    reasons = (() if door is None else (door.reason(),)) + (
        () if floor is None else (floor.reason(),)
    )
    return Estimate(PresenceState.OUTSIDE, None, 0.5 if reasons else 0.0, reasons)


def _nearby_zone(
    beacons: list[Evidence],
    in_store: list[Evidence],
    nearest_beacon: Evidence | None,
    params: FusionParams,
    current_zone: str | None,
) -> Estimate | None:
    """`locate`'s zone, if any: the phone hears its beacon close by (`nearest_beacon` with the
    body's allowance), or the zone's own gateway is close."""

    def relief(e: Evidence) -> float:
        return params.zone_switch_margin_db if e.place.name == current_zone else 0.0

    def body(e: Evidence) -> float:
        return params.beacon_body_loss_db if e is nearest_beacon else 0.0

    near_zone = [
        e
        for e in beacons
        if e.place.kind == PlaceKind.ZONE
        and e.level >= params.beacon_near_dbm - relief(e) - body(e)
        and e.place.name
    ] + [
        e
        for e in in_store
        if e.place.kind == PlaceKind.ZONE and e.level >= params.zone_gateway_dbm - relief(e)
    ]
    if not near_zone:
        return None
    best = max(near_zone, key=lambda e: e.level)
    agree = [e for e in near_zone if e.place == best.place]
    threshold = params.beacon_near_dbm if best.signal == "phone_beacon" else params.zone_gateway_dbm
    return Estimate(
        PresenceState.ZONE,
        best.place.name,
        _confidence(best.level - threshold, len(agree)),
        tuple(e.reason() for e in agree),
        best.level,
    )


def _event(
    kind: PresenceKind,
    estimate: Estimate,
    at: float,
    place: str | None = None,
    dwell_s: float | None = None,
) -> PresenceEvent:
    return PresenceEvent(
        kind,
        place if place is not None else estimate.place,
        at,
        estimate.confidence,
        estimate.reasons,
        None if dwell_s is None else round(dwell_s, 1),
    )


def _dwell_event(state: PersonState, at: float) -> PresenceEvent:
    """`zone_dwell` of the zone the person is in, with the time spent there until `at`."""
    return PresenceEvent(
        PresenceKind.ZONE_DWELL,
        state.place,
        at,
        state.confidence,
        state.reasons,
        round(max(0.0, at - state.since), 1),
    )


def _leave_place(state: PersonState, at: float) -> list[PresenceEvent]:
    if state.state != PresenceState.ZONE:
        return []
    return [_dwell_event(state, at)]


def _enter_place(
    state: PersonState, estimate: Estimate, at: float
) -> tuple[PersonState, list[PresenceEvent]]:
    # A zone's stay counts from when the evidence first placed her there, not from when the
    # minimum dwell confirmed it: a pocket phone's new zone is shown two of its scan gaps
    # (20-30 s) after its beacon placed her there, and her `zone_dwell` came that much late.
    since = at
    if (
        estimate.state == PresenceState.ZONE
        and state.zone_placed == estimate.place
        and state.zone_placed_since is not None
        and state.entered_at is not None
        and state.zone_placed_since >= state.entered_at
    ):
        since = state.zone_placed_since
    events = _leave_place(state, at)
    if estimate.state == PresenceState.ZONE:
        events.append(_event(PresenceKind.ZONE_ENTERED, estimate, at))
    elif estimate.state == PresenceState.BAY and state.state != PresenceState.BAY:
        events.append(_event(PresenceKind.CURBSIDE, estimate, at))
    moved = replace(
        state,
        state=estimate.state,
        place=estimate.place,
        since=since,
        placed_elsewhere_since=None,
        dwell_reported=False,
        zone_placed=None,
        zone_placed_since=None,
        zone_placed_heard=0,
        zone_placed_heard_at=None,
        confidence=estimate.confidence,
        reasons=estimate.reasons,
    )
    return moved, events


def _open_visit(
    state: PersonState, estimate: Estimate, at: float
) -> tuple[PersonState, list[PresenceEvent]]:
    opened = replace(state, visit_open=True, entered_at=at, outside_since=None)
    if opened.belief.visiting() < 0.5:
        # Opened by the door's evidence, a bay or a check-in against the belief: it restarts
        # where that evidence puts them.
        opened = replace(
            opened, belief=places.at_place(opened.belief, _place_of_estimate(estimate))
        )
    opened, events = _enter_place(opened, estimate, at)
    return opened, [_event(PresenceKind.ENTERED, estimate, at), *events]


def _exit(
    state: PersonState, estimate: Estimate, at: float
) -> tuple[PersonState, list[PresenceEvent]]:
    events = _leave_place(state, at)
    reasons = estimate.reasons or state.reasons
    confidence = estimate.confidence if estimate.reasons else 0.5
    events.append(PresenceEvent(PresenceKind.EXITED, None, at, confidence, reasons))
    gone = replace(
        state,
        state=PresenceState.OUTSIDE,
        place=None,
        since=at,
        visit_open=False,
        entered_at=None,
        placed_elsewhere_since=None,
        outside_since=None,
        door_evidence=0.0,
        door_evidence_at=None,
        outside_door_at=None,
        passage_evidence=0.0,
        passage_evidence_at=None,
        doorway_at=None,
        floor_leads=0,
        zone_leads=0,
        near_door_since=None,
        near_door_at=at,
        near_door_peak=None,
        walk_by_reported=True,  # one pass, one story: they came out through the door
        dwell_reported=False,
        confidence=confidence,
        reasons=reasons,
    )
    return gone, events


def _door_excess(signal: Reading, params: FusionParams) -> float | None:
    """The dB by which a reading at the door says "stepping in", or None if it says nothing
    (a source outside the door hears passers as close as shoppers, see `passage_window_s`)."""
    if signal.place.kind != PlaceKind.ENTRANCE or signal.place.outside:
        return None
    entry = params.entry_rssi_dbm
    if isinstance(signal, GatewayReading):
        rssi = signal.calibrated_rssi
        if rssi >= entry + params.entry_sure_margin_db:
            return params.entry_evidence_db  # sure by itself
        return rssi - (entry + params.entry_reference_margin_db)
    if isinstance(signal, BeaconReport):
        return params.entrance_beacon_weight * (signal.rssi - params.entrance_beacon_reference_dbm)
    return None


def _in_doorway(signal: Reading, params: FusionParams) -> bool:
    """Whether a reading says the person is in the doorway (at the entry threshold or up)."""
    if signal.place.kind != PlaceKind.ENTRANCE:
        return False
    if isinstance(signal, GatewayReading):
        return signal.calibrated_rssi >= params.entry_rssi_dbm
    if isinstance(signal, BeaconReport):
        return signal.rssi >= params.entrance_beacon_reference_dbm
    return False


def _add_door_evidence(state: PersonState, signal: Reading, params: FusionParams) -> PersonState:
    if state.visit_open:
        return state
    t = signal.seen_at
    if (
        isinstance(signal, GatewayReading)
        and signal.place.kind in ARRIVAL_KINDS
        and signal.calibrated_rssi >= params.walk_by_min_dbm
    ):
        # Near the shop front. A new pass once the last one is long over (lost timeout).
        new_pass = state.near_door_at is None or t - state.near_door_at > params.lost_timeout_s
        state = replace(
            state,
            near_door_since=t if new_pass else state.near_door_since,
            near_door_at=t,
            near_door_peak=max(signal.calibrated_rssi, state.near_door_peak or -999.0)
            if not new_pass
            else signal.calibrated_rssi,
            walk_by_reported=False if new_pass else state.walk_by_reported,
        )
    if (
        isinstance(signal, GatewayReading)
        and signal.place.kind not in ARRIVAL_KINDS
        and signal.calibrated_rssi >= params.inside_min_dbm
    ):
        state = replace(state, in_store_at=t)
    if signal.place.outside and _in_doorway(signal, params):
        state = replace(state, outside_door_at=t)
    state = _door_then_floor(state, signal, params)
    state = _door_then_ear(state, signal, params)
    passage = _passage_excess(state, signal, params)
    if passage is not None:
        recent = state.passage_evidence_at is not None and t - state.passage_evidence_at <= (
            params.entry_confirm_window_s
        )
        total = max(0.0, (state.passage_evidence if recent else 0.0) + passage)
        state = replace(state, passage_evidence=total, passage_evidence_at=t)
    excess = _door_excess(signal, params)
    if excess is None:
        return state
    recent = state.door_evidence_at is not None and t - state.door_evidence_at <= (
        params.entry_confirm_window_s
    )
    total = max(0.0, (state.door_evidence if recent else 0.0) + excess)
    return replace(state, door_evidence=total, door_evidence_at=t)


def _door_then_floor(state: PersonState, signal: Reading, params: FusionParams) -> PersonState:
    """Count the in-store gateway readings, and the phone's sightings of zone beacons, that
    lead the door since her last reading in the doorway by an inside door gateway (see
    `door_then_floor_window_s` and `door_then_zone_window_s`)."""
    if isinstance(signal, BeaconReport):
        return _door_then_zone(state, signal, params)
    if not isinstance(signal, GatewayReading):
        return state
    t, rssi = signal.seen_at, signal.calibrated_rssi
    if signal.place.kind == PlaceKind.ENTRANCE and not signal.place.outside:
        if _in_doorway(signal, params):
            return replace(state, doorway_at=t, floor_leads=0, zone_leads=0)
        return state
    if (
        signal.place.kind in ARRIVAL_KINDS
        or state.doorway_at is None
        or t - state.doorway_at > params.door_then_floor_window_s
        or rssi < params.door_then_floor_dbm
    ):
        return state
    door = _door_latest_rssi(state, params, t, by_gateway=True)
    if rssi < door + params.door_then_floor_lead_db:
        return state
    return replace(state, floor_leads=state.floor_leads + 1)


def _door_latest_rssi(
    state: PersonState,
    params: FusionParams,
    t: float,
    *,
    by_gateway: bool,
    pavement_too: bool = False,
) -> float:
    """Her latest fresh reading at the door (`unheard_dbm` if none): by a door gateway, or
    her phone's sighting of the door's beacon; the door's inside side only, unless
    `pavement_too` (door then zone counts a pavement-side door beacon too)."""
    return max(
        (
            e.last_rssi
            for e in state.evidence
            if (e.source.startswith("gateway:") if by_gateway else e.signal == "phone_beacon")
            and e.place.kind == PlaceKind.ENTRANCE
            and (pavement_too or not e.place.outside)
            and e.fresh(params, t)
        ),
        default=params.unheard_dbm,
    )


def _door_then_zone(state: PersonState, signal: BeaconReport, params: FusionParams) -> PersonState:
    """Count a zone beacon's sighting by her phone that leads the door's beacon, within
    `door_then_zone_window_s` of her last doorway reading by an inside door gateway."""
    t = signal.seen_at
    if (
        signal.place.kind != PlaceKind.ZONE
        or state.doorway_at is None
        or t - state.doorway_at > params.door_then_zone_window_s
    ):
        return state
    # Her level, as _absorb will smooth it: one sighting lifted by the channel is not enough.
    heard = _absorb(state.evidence, signal, params)[-1]
    if heard.level < params.door_then_zone_dbm:
        return state
    door = _door_latest_rssi(state, params, t, by_gateway=False, pavement_too=True)
    if signal.rssi < door + params.door_then_zone_lead_db:
        return state
    return replace(state, zone_leads=state.zone_leads + 1)


def _door_then_ear(state: PersonState, signal: Reading, params: FusionParams) -> PersonState:
    """Count the in-store beacon sightings that lead the door's beacon since the phone's last
    sighting of it in the doorway (see `ear_then_floor_window_s`)."""
    if not isinstance(signal, BeaconReport):
        return state
    t, rssi = signal.seen_at, signal.rssi
    if signal.place.kind == PlaceKind.ENTRANCE and not signal.place.outside:
        if rssi >= params.ear_doorway_dbm:
            return replace(state, ear_doorway_at=t, ear_leads=0, ear_lead_at=None)
        return state
    if (
        signal.place.kind in ARRIVAL_KINDS
        or state.ear_doorway_at is None
        or t - state.ear_doorway_at > params.ear_then_floor_window_s
        or rssi < params.ear_then_floor_dbm
        or not _ranges_every_second(state, params, t)
    ):
        return state
    door = _door_latest_rssi(state, params, t, by_gateway=False)
    if rssi < door + params.ear_then_floor_lead_db:
        return state
    if state.ear_lead_at is not None and t - state.ear_lead_at < params.ear_ranging_gap_s / 2:
        # The same ranging callback's other beacons (Core Location hands over all of them
        # at once), or one scan's burst of an app that scans: one lead.
        return state
    return replace(state, ear_leads=state.ear_leads + 1, ear_lead_at=t)


def _ranges_every_second(state: PersonState, params: FusionParams, t: float) -> bool:
    """Whether the phone only reports beacons and ranges them every second or so: no gateway
    hears it, and the beacon it hears most often is reported every `ear_ranging_gap_s` (a
    beacon at the edge of its range is heard only now and then, whatever the phone does)."""
    if _heard_by_gateway(state):
        return False
    # A gap under half a ranging period is not ranging's (Core Location hands over each beacon
    # once a second) but one scan's burst: a cached app's door beacon, twice in 0.35 s.
    return any(
        e.signal == "phone_beacon"
        and e.gap is not None
        and params.ear_ranging_gap_s / 2 <= e.gap <= params.ear_ranging_gap_s
        and e.fresh(params, t)
        for e in state.evidence
    )


def _inside_entry_hold(state: PersonState, params: FusionParams, t: float) -> float:
    """How long someone placed in the store must stay so before it is an entry:
    `inside_entry_s`, or `ear_inside_entry_s` for a phone that ranges every second."""
    if _ranges_every_second(state, params, t):
        return params.ear_inside_entry_s
    return params.inside_entry_s


def _through_door_by_ear(
    state: PersonState, estimate: Estimate, params: FusionParams, t: float
) -> Estimate | None:
    """Where an entry through the door, confirmed by in-store beacons leading the door's beacon
    in the phone's ear just after it (`ear_then_floor_*`), places her, or None."""
    if (
        state.ear_doorway_at is None
        or t - state.ear_doorway_at > params.ear_then_floor_window_s
        or state.ear_leads < params.ear_then_floor_readings
        or not _ranges_every_second(state, params, t)
    ):
        return None
    heard = max(
        (
            e
            for e in state.evidence
            if e.signal == "phone_beacon"
            and e.place.kind not in ARRIVAL_KINDS
            and e.at >= state.ear_doorway_at
        ),
        key=lambda e: e.last_rssi,
        default=None,
    )
    if heard is None:
        return None
    passage = {
        "signal": "door_then_floor_by_ear",
        "doorway_s_ago": round(t - state.ear_doorway_at, 1),
        "readings": state.ear_leads,
    }
    if estimate.state in (PresenceState.INSIDE, PresenceState.ZONE):
        return replace(estimate, reasons=(*estimate.reasons, passage))
    margin = heard.last_rssi - params.ear_then_floor_dbm
    return Estimate(
        PresenceState.INSIDE, None, _confidence(margin), (heard.reason(), passage), heard.level
    )


def _passage_excess(state: PersonState, signal: Reading, params: FusionParams) -> float | None:
    """The dB by which an inside door gateway's reading says "came in from outside" (the
    order outside -> inside, see `passage_window_s`), or None if it says nothing: not an
    inside door gateway's reading at the entry threshold, no outside reading at the threshold
    just before, or the outside gateway still reads her there."""
    if (
        not isinstance(signal, GatewayReading)
        or signal.place.kind != PlaceKind.ENTRANCE
        or signal.place.outside
        or signal.calibrated_rssi < params.entry_rssi_dbm
        or state.outside_door_at is None
        or not 0.0 <= signal.seen_at - state.outside_door_at <= params.passage_window_s
    ):
        return None
    t = signal.seen_at
    outside = max(
        (
            e
            for e in state.evidence
            if e.place.outside and e.source.startswith("gateway:") and e.fresh(params, t)
        ),
        key=lambda e: e.at,
        default=None,
    )
    if outside is None:
        return None
    # An entrance gateway reports every reading at the entry threshold or up, about once a
    # second (gateway/tracking.py, AT_DOOR): its latest reading under the threshold, or its
    # silence for longer than that about a phone it reports about once a second, says she has
    # left its doorway range.
    often = outside.gap is not None and outside.gap <= params.passage_report_gap_s
    left = outside.last_rssi < params.entry_rssi_dbm or (
        often and t - outside.at > params.passage_silence_s
    )
    if not left:
        return None
    return signal.calibrated_rssi - params.entry_rssi_dbm


def _arrival_estimate(
    state: PersonState, estimate: Estimate, params: FusionParams, t: float
) -> Estimate | None:
    """Where an entry confirmed by the door evidence (its level, or the direction of passage)
    places the person, or None if unconfirmed."""
    if (
        state.door_evidence < params.entry_evidence_db
        and state.passage_evidence < params.passage_evidence_db
    ):
        return None
    passage: tuple[dict[str, Any], ...] = ()
    if state.passage_evidence >= params.passage_evidence_db:
        passage = (
            {"signal": "passage", "from": "outside", "evidence_db": round(state.passage_evidence)},
        )
    if estimate.state == PresenceState.ENTRANCE:
        return replace(estimate, reasons=estimate.reasons + passage)
    doors = [e for e in state.evidence if e.place.kind == PlaceKind.ENTRANCE and e.fresh(params, t)]
    latest = max(doors, key=lambda e: e.at, default=None)
    if latest is None:
        return None
    return Estimate(
        PresenceState.ENTRANCE,
        latest.place.name,
        _confidence(max(state.door_evidence, state.passage_evidence)),
        (latest.reason(), *passage),
    )


def _step(
    state: PersonState,
    params: FusionParams,
    t: float,
    checked_in: bool = False,
    reading: bool = False,
) -> tuple[PersonState, list[PresenceEvent]]:
    """Apply the decisions at time `t` given the evidence already absorbed.

    Args:
        checked_in: the signal just absorbed is a check-in (the shopper's word opens a visit).
        reading: a reading was just absorbed.
    """
    if params.filter_decisions:
        return _step_filter(state, params, t, checked_in, reading)
    return _step_rules(state, params, t, checked_in)


def _locate_state(state: PersonState, params: FusionParams, t: float) -> Estimate:
    """`locate` from what fusion remembers of her: her place, her visit and her door passage."""
    return locate(
        state.evidence,
        params,
        t,
        state.visit_open,
        state.place if state.state == PresenceState.ZONE else None,
        state.state == PresenceState.ENTRANCE,
        state.place if state.state == PresenceState.BAY else None,
        _holds_inside(state, params, t),
        state.door_passed_at if state.visit_open else None,
    )


def _step_rules(
    state: PersonState, params: FusionParams, t: float, checked_in: bool = False
) -> tuple[PersonState, list[PresenceEvent]]:
    """The state machine of thresholds at time `t` (`filter_decisions` off).

    Args:
        checked_in: the signal just absorbed is a check-in (the shopper's word opens a visit).
    """
    estimate = _locate_state(state, params, t)
    if checked_in:  # the shopper's word: in, and where she says, at once
        if not state.visit_open:
            return _open_visit(state, estimate, t)
        if (estimate.state, estimate.place) != (state.state, state.place):
            return _enter_place(replace(state, outside_since=None), estimate, t)
    if not state.visit_open:
        return _step_outside_rules(state, estimate, params, t)
    state = _zone_placed(state, estimate, t)
    # Every source silent for longer than its own cadence allows: gone, at once.
    silent = _all_stale(state, params, t)
    if (
        estimate.state == PresenceState.OUTSIDE
        and not silent
        and _holds_inside(state, params, t)
        and (
            (state.state == PresenceState.ZONE and _zone_heard_within(state, params, t))
            or _sparse_scanner(state, params, t)
        )
    ):
        # The door far and not passed, other sources still heard: silence, not the pavement.
        # Her zone's beacon unheard for a few of the phone's scans (see zone_silence_gaps), or
        # weak or missing beacons between a sparse scanner's scans: her cadence (the lost
        # timeout or the door tells when she has gone).
        return _hold(state, replace(estimate, state=state.state, place=state.place), params, t)
    if estimate.state == PresenceState.OUTSIDE:
        since = state.outside_since if state.outside_since is not None else t
        if silent or t - since >= params.exit_after_s:
            return _exit(state, estimate, t)
        return replace(state, outside_since=since), []
    state = replace(state, outside_since=None)
    if (estimate.state, estimate.place) == (state.state, state.place):
        return _hold(state, estimate, params, t)
    if (
        state.state == PresenceState.ZONE
        and estimate.state == PresenceState.INSIDE
        and _zone_unrefuted(state, params, t)
    ):
        # Only the zone's source has fallen silent, nothing places her elsewhere.
        return _hold(state, replace(estimate, state=state.state, place=state.place), params, t)
    if state.state == PresenceState.ZONE and estimate.state == PresenceState.ZONE:
        current = _zone_level(state, params, t)
        if current is not None and estimate.level < current + params.zone_switch_margin_db:
            return replace(state, placed_elsewhere_since=None), []
    # The dwell counts from when the person stopped being placed where they are, wherever the
    # evidence has put them since: someone walking out of a zone passes the floor, the doorway
    # and the pavement, and each of those must not restart the clock.
    since = state.placed_elsewhere_since if state.placed_elsewhere_since is not None else t
    if t - since >= _min_dwell(state, params, t):
        return _enter_place(state, estimate, t)
    return replace(state, placed_elsewhere_since=since), []


def _step_filter(
    state: PersonState,
    params: FusionParams,
    t: float,
    checked_in: bool = False,
    reading: bool = False,
) -> tuple[PersonState, list[PresenceEvent]]:
    """Bring the belief to time `t` and decide from it (`filter_decisions` on).

    Args:
        checked_in: the signal just absorbed is a check-in (the shopper's word opens a visit).
        reading: a reading was just absorbed (it counts at once, see READING_S).
    """
    estimate = _locate_state(state, params, t)
    if checked_in:  # the shopper's word: in, and where she says, at once
        where = _place_of_estimate(estimate)
        state = replace(state, belief=places.at_place(_believe(state, params, t).belief, where))
        if not state.visit_open:
            return _open_visit(state, estimate, t)
        if (estimate.state, estimate.place) != (state.state, state.place):
            return _enter_place(replace(state, outside_since=None), estimate, t)
        return state, []
    state = _believe(state, params, t, reading)
    if not state.visit_open:
        return _step_outside_filter(state, estimate, params, t)
    if state.belief.visiting() <= params.exit_probability:
        return _exit(state, _filter_estimate(state, params, t, gone=True), t)
    estimate = _filter_estimate(state, params, t)
    if (estimate.state, estimate.place) == (state.state, state.place):
        return _hold(state, estimate, params, t)
    # The dwell counts from when the person stopped being placed where they are, wherever the
    # belief has put them since: someone walking out of a zone passes the floor, the doorway
    # and the pavement, and each of those must not restart the clock.
    since = state.placed_elsewhere_since if state.placed_elsewhere_since is not None else t
    if t - since >= _min_dwell(state, params, t):
        return _enter_place(state, estimate, t)
    return replace(state, placed_elsewhere_since=since), []


def _observations(state: PersonState, params: FusionParams, t: float) -> list[places.Observation]:
    """What each source says at `t`: its level while fresh, its silence for a while after."""
    out = []
    for e in state.evidence:
        if e.signal == "check_in":
            continue
        device = places.place_key(e.place.kind, e.place.name)
        by_phone = e.signal == "phone_beacon"
        if e.fresh(params, t):
            out.append(places.Observation(device, by_phone, e.level))
        elif t - e.at <= params.silence_memory_s:
            out.append(places.Observation(device, by_phone, None))
    return out


def _believe(
    state: PersonState, params: FusionParams, t: float, reading: bool = False
) -> PersonState:
    """The belief brought to `t`: moved along the topology, then weighed by every source."""
    before = state.belief.at
    belief = places.predict(state.belief, params, t)
    seconds = 0.0 if before is None else min(params.max_evidence_step_s, max(0.0, t - before))
    if reading or before is None:
        seconds = max(seconds, params.reading_s)
    belief = places.observe_now(belief, _observations(state, params, t), seconds, params)
    return replace(state, belief=belief)


def _presence_of(place: str) -> tuple[PresenceState, str | None]:
    """The fused state and place name of a belief's place."""
    if place in (places.ENTRANCE, places.LEAVING):
        return PresenceState.ENTRANCE, "entrance"
    if place.startswith(places.ZONE_PREFIX):
        return PresenceState.ZONE, place.removeprefix(places.ZONE_PREFIX)
    if place.startswith(places.BAY_PREFIX):
        return PresenceState.BAY, place.removeprefix(places.BAY_PREFIX)
    if place == places.FLOOR:
        return PresenceState.INSIDE, None
    return PresenceState.OUTSIDE, None


def _place_of_state(state: PersonState) -> str | None:
    """The belief's place of the state a person is in, if in a visit's place."""
    if state.state == PresenceState.ENTRANCE:
        return max((places.ENTRANCE, places.LEAVING), key=state.belief.of)
    if state.state == PresenceState.INSIDE:
        return places.FLOOR
    if state.state == PresenceState.ZONE:
        return places.zone_place(state.place)
    if state.state == PresenceState.BAY:
        return places.bay_place(state.place)
    return None


def _place_of_estimate(estimate: Estimate) -> str:
    if estimate.state == PresenceState.ZONE:
        return places.zone_place(estimate.place)
    if estimate.state == PresenceState.BAY:
        return places.bay_place(estimate.place)
    if estimate.state == PresenceState.INSIDE:
        return places.FLOOR
    return places.ENTRANCE


def _filter_estimate(
    state: PersonState, params: FusionParams, t: float, gone: bool = False
) -> Estimate:
    """Where the belief puts the person: its most probable visit place, with hysteresis.

    Args:
        gone: the estimate of an exit: outside, with the probability of being out.
    """
    fresh = sorted(
        (e for e in state.evidence if e.signal != "check_in" and e.fresh(params, t)),
        key=lambda e: e.level,
        reverse=True,
    )
    belief = state.belief
    visiting = belief.visiting()
    if gone:
        reasons = (
            *(e.reason() for e in fresh[:2]),
            {"signal": "filter", "p_out": round(1 - visiting, 2)},
        )
        return Estimate(PresenceState.OUTSIDE, None, round(1 - visiting, 2), reasons)
    candidates = [p for p, _ in belief.probabilities if places.is_visit_place(p)]
    best, probability = places.most_likely(belief, candidates)
    current = _place_of_state(state)
    if (
        current is not None
        and best != current
        and (
            probability < params.place_switch_probability
            or belief.of(current) >= params.place_hold_probability
        )
    ):
        best, probability = current, belief.of(current)
    presence, name = _presence_of(best)
    reasons = (
        *(e.reason() for e in fresh[:2]),
        {"signal": "filter", "place": best, "p": round(probability, 2), "p_in": round(visiting, 2)},
    )
    return Estimate(presence, name, round(min(1.0, visiting), 2), reasons)


def _hold(
    state: PersonState, estimate: Estimate, params: FusionParams, t: float
) -> tuple[PersonState, list[PresenceEvent]]:
    """The person is still where they were placed: refresh the confidence and reasons, and
    report the dwell once it reaches `zone_dwell_s` while she is still in the zone."""
    held = replace(
        state,
        placed_elsewhere_since=None,
        confidence=estimate.confidence,
        reasons=estimate.reasons,
    )
    if (
        held.state == PresenceState.ZONE
        and not held.dwell_reported
        and t - held.since >= params.zone_dwell_s
    ):
        return replace(held, dwell_reported=True), [_dwell_event(held, t)]
    return held, []


def _holds_inside(state: PersonState, params: FusionParams, t: float) -> bool:
    """Whether the person is placed in the store and has not been in the doorway lately, since
    the passage that opened her visit.

    Everything weak and alike is where the radios leave two places indistinguishable: the
    back of the store and the pavement down the street. Which one it is, the door tells: a
    shopper who walked out passed it (a reading at the entry threshold) a moment ago, one at
    the rail did not.
    """
    # At the entrance too: a visit opened in the doorway and then read weakly everywhere is
    # a pocket phone walking on into the store as much as one back on the pavement, and only
    # a doorway reading since says which (door-pair seed 1: 3 of 6 early exits).
    placed = state.state in (PresenceState.INSIDE, PresenceState.ZONE, PresenceState.ENTRANCE)
    # The passage that opened her visit does not count: she has walked in, not out (an entry
    # from in-store gateways comes seconds after her doorway reading, and a pocket phone at
    # the back read weak in between closed the visit it had just opened).
    passed = (
        state.door_passed_at is not None
        and t - state.door_passed_at <= params.door_passage_s
        and (state.entered_at is None or state.door_passed_at > state.entered_at)
    )
    return state.visit_open and placed and not passed


def _sparse_scanner(state: PersonState, params: FusionParams, t: float) -> bool:
    """Whether her phone only reports beacons (no gateway hears it), from sparse scans rather
    than ranging every second (an Android app the OS has cached scans 0.5 s every 10 s).

    Such a phone at a rail misses every beacon for several scans, then hears the farthest one
    weakly: that is the back of the store as much as the pavement (busy-saturday: 19 of its
    56 visits closed while she was still in, 2.5 minutes on average before she left). Leaving
    takes the door, which a strong door beacon tells, or silence (`lost_timeout_s`): a phone
    outside soon hears nothing of the store.
    """
    if _heard_by_gateway(state):
        return False
    heard = any(e.signal == "phone_beacon" for e in state.evidence)
    return heard and not _ranges_every_second(state, params, t)


def _heard_by_gateway(state: PersonState) -> bool:
    """Whether a gateway hears her (her phone advertises, or she carries a tag)."""
    return any(e.source.startswith("gateway:") for e in state.evidence)


def _min_dwell(state: PersonState, params: FusionParams, t: float) -> float:
    """How long a new place must hold: `min_dwell_s`, or `dwell_gaps` of the slowest phone.

    Only the phone's beacon reports count: their gaps are its scan cadence, while a gateway
    reports a steady device only on its keepalive (a long gap there means nothing changed).
    """
    if (
        state.zone_placed is not None
        and state.state != PresenceState.ZONE
        and params.zone_confirm_sightings
        and state.zone_placed_heard >= params.zone_confirm_sightings
    ):
        return params.min_dwell_s
    gaps = [
        e.gap
        for e in state.evidence
        if e.signal == "phone_beacon" and e.gap is not None and e.fresh(params, t)
    ]
    return max(params.min_dwell_s, params.dwell_gaps * max(gaps, default=0.0))


def _zone_heard_within(state: PersonState, params: FusionParams, t: float) -> bool:
    """Whether the phone heard its zone's beacon strongly enough within `zone_silence_gaps` of
    its usual gaps between sightings of it, and since the door was last passed."""
    passed = state.door_passed_at if state.door_passed_at is not None else float("-inf")
    # Gone unheard, not heard weaker: at the level that holds someone in her zone (`locate`).
    held = params.beacon_near_dbm - params.zone_switch_margin_db - params.beacon_body_loss_db
    return any(
        e.signal == "phone_beacon"
        and e.place.kind == PlaceKind.ZONE
        and e.place.name == state.place
        and e.gap is not None
        and e.at >= max(passed, t - params.zone_silence_gaps * e.gap)
        and e.level >= held
        for e in state.evidence
    )


def _zone_unrefuted(state: PersonState, params: FusionParams, t: float) -> bool:
    """Whether nothing has said she left her zone: its beacon was last heard at the zone's
    holding level, within `zone_silence_hold_s` for a phone that hears it seldom, within
    `zone_silence_gaps` of its gaps and since the door was passed for one that hears it
    every second or so (`zone_silence_sparse_gap_s`)."""
    held = params.beacon_near_dbm - params.zone_switch_margin_db - params.beacon_body_loss_db
    passed = state.door_passed_at if state.door_passed_at is not None else float("-inf")

    def since(e: Evidence) -> float:
        if e.gap is not None and e.gap < params.zone_silence_sparse_gap_s:
            # Heard every second or so: a few of its gaps unheard, or the door passed, and
            # she has gone (`_zone_heard_within`).
            return max(passed, t - params.zone_silence_gaps * e.gap)
        return t - params.zone_silence_hold_s

    return any(
        e.signal == "phone_beacon"
        and e.place.kind == PlaceKind.ZONE
        and e.place.name == state.place
        and e.at >= since(e)
        and e.level >= held
        for e in state.evidence
    )


def _zone_placed(state: PersonState, estimate: Estimate, t: float) -> PersonState:
    """Remember since when the evidence has placed her in a zone she is not shown in, and
    how many sightings of its beacon her phone has reported since."""
    shown = state.state == PresenceState.ZONE and state.place == estimate.place
    if estimate.state != PresenceState.ZONE or shown:
        if state.zone_placed is None:
            return state
        return replace(
            state,
            zone_placed=None,
            zone_placed_since=None,
            zone_placed_heard=0,
            zone_placed_heard_at=None,
        )
    heard_at = max(
        (
            e.at
            for e in state.evidence
            if e.signal == "phone_beacon"
            and e.place.kind == PlaceKind.ZONE
            and e.place.name == estimate.place
        ),
        default=None,
    )
    placed_since = state.zone_placed_since
    if (
        state.zone_placed == estimate.place
        and placed_since is not None
        and placed_since >= (state.entered_at or placed_since)
    ):
        if heard_at is None or heard_at == state.zone_placed_heard_at:
            return state
        return replace(
            state, zone_placed_heard=state.zone_placed_heard + 1, zone_placed_heard_at=heard_at
        )
    # (a candidate left from an earlier visit starts anew)
    return replace(
        state,
        zone_placed=estimate.place,
        zone_placed_since=t,
        zone_placed_heard=0 if heard_at is None else 1,
        zone_placed_heard_at=heard_at,
    )


def _zone_level(state: PersonState, params: FusionParams, t: float) -> float | None:
    levels = [
        e.level
        for e in state.evidence
        if e.place.kind == PlaceKind.ZONE and e.place.name == state.place and e.fresh(params, t)
    ]
    return max(levels, default=None)


def _step_outside_rules(
    state: PersonState, estimate: Estimate, params: FusionParams, t: float
) -> tuple[PersonState, list[PresenceEvent]]:
    arrived = _arrival_estimate(state, estimate, params, t)
    if arrived is not None:
        return _open_visit(state, arrived, t)
    through = _through_door_estimate(state, estimate, params, t)
    if through is not None:
        return _open_visit(state, through, t)
    by_ear = _through_door_by_ear(state, estimate, params, t)
    if by_ear is not None:
        return _open_visit(state, by_ear, t)
    if estimate.state in (PresenceState.INSIDE, PresenceState.ZONE, PresenceState.BAY):
        # Placed in the store or at a bay for long enough, and heard again once the hold is
        # up (the clock alone does not do it: a passer's last reading stays current for
        # evidence_ttl_s after they have gone): in, whatever the door.
        since = state.placed_elsewhere_since if state.placed_elsewhere_since is not None else t
        level = None
        if estimate.state == PresenceState.BAY:
            if state.pending_bay != estimate.place:
                # One bay throughout: a pedestrian walking along the kerb is nearest to one
                # bay's post after another, a car waits at one.
                since = t
            held = state.pending_bay_level if state.pending_bay == estimate.place else None
            level = held if held is not None else estimate.level
            if abs(estimate.level - level) > params.bay_steady_db:
                # Walking towards the post or away from it, not waiting (see bay_steady_db).
                since, level = t, estimate.level
        state = replace(
            state,
            pending_bay=estimate.place if estimate.state == PresenceState.BAY else None,
            pending_bay_level=level,
        )
        if estimate.state == PresenceState.BAY:
            hold = params.bay_arrival_s
            bay = Place(PlaceKind.BAY, estimate.place)
            heard = max((e.at for e in state.evidence if e.place == bay), default=since)
        else:
            # Heard again by an in-store source: any reading would do for a passer too (a
            # phone that scans every 10 s still has a 20 s old in-store beacon fresh when it
            # reports the door's beacon from down the street).
            hold = _inside_entry_hold(state, params, t)
            heard = max(
                (e.at for e in state.evidence if e.place.kind not in ARRIVAL_KINDS),
                default=since,
            )
        if t - since >= hold and heard - since >= hold:
            return _open_visit(state, estimate, t)
        return replace(state, placed_elsewhere_since=since), []
    if state.placed_elsewhere_since is not None:
        state = replace(
            state, placed_elsewhere_since=None, pending_bay=None, pending_bay_level=None
        )
    return _walk_by(state, estimate, params, t)


def _through_door_estimate(
    state: PersonState, estimate: Estimate, params: FusionParams, t: float
) -> Estimate | None:
    """Where an entry through the door, confirmed by in-store gateways leading the door just
    after it (`door_then_floor_*`), places her, or None if unconfirmed."""
    if state.doorway_at is None:
        return None
    since = t - state.doorway_at
    by_floor = (
        since <= params.door_then_floor_window_s
        and state.floor_leads >= params.door_then_floor_readings
    )
    # A zone's beacon leading in her phone's ear and an in-store gateway leading the door
    # are two witnesses of the same step in: they add up.
    by_zone = (
        since <= params.door_then_zone_window_s
        and state.zone_leads >= 1
        and state.zone_leads + state.floor_leads >= params.door_then_floor_readings
    )
    if not by_floor and not by_zone:
        return None
    floor = max(
        (
            e
            for e in state.evidence
            if (e.source.startswith("gateway:") if by_floor else e.signal == "phone_beacon")
            and e.place.kind not in ARRIVAL_KINDS
            and e.at >= state.doorway_at
        ),
        key=lambda e: e.last_rssi,
        default=None,
    )
    if floor is None:
        return None
    passage = {
        "signal": "door_then_floor" if by_floor else "door_then_zone",
        "doorway_s_ago": round(since, 1),
        "readings": state.floor_leads if by_floor else state.zone_leads + state.floor_leads,
    }
    if estimate.state in (PresenceState.INSIDE, PresenceState.ZONE):
        return replace(estimate, reasons=(*estimate.reasons, passage))
    margin = floor.last_rssi - (
        params.door_then_floor_dbm if by_floor else params.door_then_zone_dbm
    )
    return Estimate(
        PresenceState.INSIDE, None, _confidence(margin), (floor.reason(), passage), floor.level
    )


def _step_outside_filter(
    state: PersonState, estimate: Estimate, params: FusionParams, t: float
) -> tuple[PersonState, list[PresenceEvent]]:
    arrived = _arrival_estimate(state, estimate, params, t)
    if arrived is not None:
        return _open_visit(state, arrived, t)
    if state.belief.in_store() >= params.enter_probability:
        # The belief has them in the store, whatever the door said. (A bay opens a visit only
        # by the bay rule below: a pedestrian on the kerb passes right under a bay's post.)
        return _open_visit(state, _filter_estimate(state, params, t), t)
    if estimate.state == PresenceState.BAY:
        # Nearest to one bay's gateway for long enough, and heard again once the hold is up
        # (the clock alone does not do it: a passer's last reading stays current for
        # evidence_ttl_s after they have gone): arrived. One bay throughout: a pedestrian
        # walking along the kerb is nearest to one bay's post after another, a car waits at one.
        since = state.placed_elsewhere_since if state.placed_elsewhere_since is not None else t
        if state.pending_bay != estimate.place:
            since = t
        state = replace(state, pending_bay=estimate.place)
        bay = Place(PlaceKind.BAY, estimate.place)
        heard = max((e.at for e in state.evidence if e.place == bay), default=since)
        if t - since >= params.bay_arrival_s and heard - since >= params.bay_arrival_s:
            return _open_visit(state, estimate, t)
        return replace(state, placed_elsewhere_since=since), []
    if state.placed_elsewhere_since is not None:
        state = replace(state, placed_elsewhere_since=None, pending_bay=None)
    return _walk_by(state, estimate, params, t)


def _walk_by(
    state: PersonState, estimate: Estimate, params: FusionParams, t: float
) -> tuple[PersonState, list[PresenceEvent]]:
    """`walk_by` once someone heard near the shop front has gone by without entering."""
    heard_at = max(state.near_door_at or 0.0, state.in_store_at or 0.0)
    if (
        state.walk_by_reported
        or state.near_door_since is None
        or state.near_door_at is None
        or t - heard_at < params.walk_by_gone_s
    ):
        return state, []
    peak = state.near_door_peak if state.near_door_peak is not None else params.walk_by_min_dbm
    reasons = (
        {
            "signal": "near_shop_front",
            "rssi": round(peak),
            "for_s": round(state.near_door_at - state.near_door_since, 1),
        },
        {"signal": "gone", "silent_s": round(t - heard_at, 1)},
    )
    # Sure they passed (gone for twice the wait) and how clearly they were at the shop front.
    gone_share = min(1.0, (t - heard_at) / (2 * params.walk_by_gone_s))
    confidence = round(min(1.0, BASE_CONFIDENCE + (1 - BASE_CONFIDENCE) * gone_share), 2)
    event = PresenceEvent(PresenceKind.WALK_BY, None, t, confidence, reasons)
    walked = replace(
        state,
        state=PresenceState.WALK_BY,
        since=t,
        walk_by_reported=True,
        confidence=confidence,
        reasons=reasons,
    )
    return walked, [event]


def fuse(
    state: PersonState | None, signals: Iterable[Signal], params: FusionParams, now: float
) -> Fused:
    """Fold signals (any order) into a person's state at server time `now`."""
    current = state if state is not None else PersonState()
    events: list[PresenceEvent] = []
    ignored: Counter[str] = Counter()
    for signal in sorted(signals, key=signal_time):
        why = check_signal(current, signal, now)
        if why is not None:
            ignored[why] += 1
            continue
        t = signal.seen_at
        current, timed = _advance(current, params, t)
        events += timed
        if isinstance(signal, PhoneReport):
            current, told = _phone_report(current, signal, params)
            events += told
            continue
        current = replace(
            _add_door_evidence(current, signal, params),
            door_passed_at=t if _in_doorway(signal, params) else current.door_passed_at,
            evidence=_absorb(current.evidence, signal, params),
            last_heard_at=max(t, current.last_heard_at or t),
        )
        current, stepped = _step(
            current, params, t, checked_in=isinstance(signal, CheckIn), reading=True
        )
        events += stepped
    return Fused(current, events, ignored)


def _advance(
    state: PersonState, params: FusionParams, now: float
) -> tuple[PersonState, list[PresenceEvent]]:
    if not state.visit_open:
        lingering = _region_entry(state, params, now)
        if lingering is not None:
            return _open_visit(state, lingering, now)
        passing = state.near_door_since is not None and not state.walk_by_reported
        if passing or state.placed_elsewhere_since is not None:
            return _step(state, params, now)
        return state, []
    if _region_holds(state, params, now):
        return state, []
    if state.last_heard_at is not None and now - state.last_heard_at >= params.lost_timeout_s:
        lost = Estimate(
            PresenceState.OUTSIDE,
            None,
            0.5,
            ({"signal": "lost", "silent_s": round(now - state.last_heard_at, 1)},),
        )
        return _exit(state, lost, state.last_heard_at + params.lost_timeout_s)
    # Silence is evidence too: a source long silent no longer places anyone (Evidence.fresh).
    return _step(state, params, now)


def _all_stale(state: PersonState, params: FusionParams, now: float) -> bool:
    """Whether every source that heard her has been silent for longer than its own cadence
    allows (`Evidence.fresh`: a few of its usual gaps, at most `evidence_ttl_s`): the phone
    itself has gone quiet, not only her zone's beacon (a pocket phone's zone beacon held her
    for `zone_silence_gaps` of its scans after she had gone, until the lost timeout).

    Only for a phone or tag that gateways hear: a phone that only reports beacons (an Android
    app the OS has cached, scanning every 10 s) misses every beacon for several scans at a
    rail, and that silence is for `zone_silence_gaps` to judge (busy-saturday early exits
    18 -> 20, harsh 24 -> 27, when it counted too).

    And only once she has passed the door since the passage that opened her visit: silence
    right after entering is a phone gone out of the door gateway's range into a store that
    gateways do not cover (a door gateway and zone beacons only), whose app's delayed beacon
    reports are still to come; the lost timeout judges that."""
    left_by_door = (
        state.entered_at is not None
        and state.door_passed_at is not None
        and state.door_passed_at > state.entered_at + params.door_passage_s
    )
    heard = [e for e in state.evidence if e.signal != "check_in"]
    return (
        left_by_door and _heard_by_gateway(state) and not any(e.fresh(params, now) for e in heard)
    )


def _phone_report(
    state: PersonState, report: PhoneReport, params: FusionParams
) -> tuple[PersonState, list[PresenceEvent]]:
    """The app's state and region event: entering arms the region entry (`region_entry_s`),
    leaving closes the visit at once unless a gateway still hears her."""
    t = report.seen_at
    state = replace(state, app_state=report.app_state or state.app_state)
    if report.region == REGION_ENTER:
        if state.region_since is None:
            heard = max(t, state.last_heard_at or t)
            state = replace(state, region_since=t, last_heard_at=heard)
        return state, []
    if report.region != REGION_EXIT:
        return state, []
    # The phone hears no store beacon any more: what it heard before says nothing now.
    evidence = tuple(e for e in state.evidence if e.signal != "phone_beacon")
    state = replace(state, region_since=None, evidence=evidence)
    heard = any(e.source.startswith("gateway:") and e.fresh(params, t) for e in evidence)
    if not state.visit_open or heard:
        return state, []
    reason = {"signal": "region_exit", "app_state": state.app_state or "unknown"}
    return _exit(
        state, Estimate(PresenceState.OUTSIDE, None, params.region_exit_confidence, (reason,)), t
    )


def _region_entry(state: PersonState, params: FusionParams, now: float) -> Estimate | None:
    """The entry of a background app's phone still in the store's region after
    `region_entry_s` (a passer has left it by then), or None."""
    since = state.region_since
    if state.app_state != APP_BACKGROUND or since is None or now - since < params.region_entry_s:
        return None
    reason = {
        "signal": "region_enter",
        "app_state": APP_BACKGROUND,
        "in_region_s": round(now - since, 1),
    }
    return Estimate(PresenceState.INSIDE, None, params.region_entry_confidence, (reason,))


def _region_holds(state: PersonState, params: FusionParams, now: float) -> bool:
    """Whether a visit stays as it is: the phone's app asleep in the store's region, nothing
    fresh heard (the region's exit will tell when she leaves, see `region_hold_s`)."""
    if state.app_state != APP_BACKGROUND or state.region_since is None:
        return False
    if any(e.fresh(params, now) for e in state.evidence if e.signal != "check_in"):
        return False
    return now - (state.last_heard_at or state.region_since) < params.region_hold_s


def heard_until(state: PersonState, now: float) -> float | None:
    """Until when the person counts as heard, for the visit's `last_seen_at`: `now` while her
    phone's app sleeps in the store's region (its exit will tell, see `_region_holds`), else
    when last heard."""
    if state.visit_open and state.app_state == APP_BACKGROUND and state.region_since is not None:
        return now
    return state.last_heard_at


def advance(state: PersonState, params: FusionParams, now: float) -> Fused:
    """Apply what time alone decides at `now`: a walk-by, a dwell, an exit, the lost timeout."""
    new_state, events = _advance(state, params, now)
    return Fused(new_state, events)


def restore(
    visit: tuple[float, float] | None, signals: Iterable[Reading], params: FusionParams
) -> PersonState:
    """Rebuild a person's state from stored facts, without events (they were emitted before).

    Args:
        visit: (started_at, last_seen_at) of the open visit, if there is one.
        signals: the person's recent stored readings.
    """
    state = PersonState()
    if visit is not None:
        state = replace(
            state,
            state=PresenceState.INSIDE,
            since=visit[0],
            visit_open=True,
            entered_at=visit[0],
            last_heard_at=visit[1],
        )
    for signal in sorted(signals, key=signal_time):
        state = replace(
            state,
            evidence=_absorb(state.evidence, signal, params),
            last_heard_at=max(signal.seen_at, state.last_heard_at or signal.seen_at),
        )
    if visit is not None:
        at = state.last_heard_at or visit[1]
        estimate = locate(state.evidence, params, at, True)
        if estimate.state != PresenceState.OUTSIDE:
            state = replace(state, state=estimate.state, place=estimate.place)
        where = _place_of_state(state) or places.FLOOR
        state = replace(state, belief=places.at_place(Belief(at=at), where))
    else:
        # Rebuilt after a restart: any pass in the readings was already told or never will be.
        state = replace(state, walk_by_reported=True, near_door_at=state.last_heard_at)
    return state
