"""Where a person is, as a probability over the store's places: a discrete Bayes filter, pure.

The places are `away` (out of every radio's range), `front` (the pavement in front of the
shop), `entrance` (the doorway), `floor` (in the store, in no zone), each zone and each bay
(`zone:<name>`, `bay:<name>`). A person moves only along the store's topology: away <-> front
<-> entrance <-> floor <-> zones, bays off the kerb (front) and the car park lane (away); the
rates come from walking speed and the size of each place (`transition_rate`). Each second
(`predict`) the belief spreads along those edges; each reading (`observe`) reweighs it by how
likely that RSSI is from that gateway or beacon if the person stood in each place
(`expected_rssi`: a log-distance path-loss model at the typical distance between a place and
what the device watches); and a source that should have reported and did not (`silence`)
lowers every place in its range. Nothing here knows coordinates: the server knows only what
each gateway and beacon watches (its place kind and zone), so distances are typical ones by
relation (same place, next place, across the store), documented in `FilterParams`.

Nothing here reads a clock: every function takes the time or the elapsed seconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from store_server.vocabulary import PlaceKind

AWAY = "away"
FRONT = "front"
ENTRANCE = "entrance"
# The doorway on the way out: the same place as `entrance` to every radio, but a person in it
# walks on to the pavement, where one coming in walks on into the store. One gateway at a door
# cannot tell the two directions apart (its readings rise and fall alike); the filter can,
# from where the person was before.
LEAVING = "leaving"
FLOOR = "floor"
ZONE_PREFIX = "zone:"
BAY_PREFIX = "bay:"
# The places every store has; its zones and bays join a person's belief as signals name them.
BASE_PLACES = (AWAY, FRONT, ENTRANCE, LEAVING, FLOOR)
IN_STORE = (
    ENTRANCE,
    LEAVING,
    FLOOR,
)  # with every zone: the visit's places (bays count as a visit too)
# Steps of the prediction: one second, the sweep's and the bench's tick. Longer silences are
# predicted in at most this many steps (after ten minutes the belief has long settled).
MAX_PREDICT_STEPS = 600
# A probability never reaches 0: a place ruled out by a faded reading must stay recoverable.
FLOOR_PROBABILITY = 1e-6
# Readings outside a realistic RSSI span are an outlier's; their likelihood is flat over it.
OUTLIER_SPAN_DB = 70.0


@dataclass(frozen=True)
class FilterParams:
    """The filter's model, each value with its source; `FusionParams` carries them by flag."""

    # Log-distance path loss (Rappaport, "Wireless Communications", 2nd ed., 4.9): the mean
    # RSSI at 1 m of a phone advertising and of an iBeacon-class beacon is -59 dBm (Apple's
    # "measured power" reference; Eddystone's tx_power at 0 m minus 41 dB), the exponent 2.0
    # in the open and 1.8-3.0 on indoor retail floors (Faria 2005; Bahl and Padmanabhan 2000).
    rssi_at_1m_dbm: float = -59.0
    # (named apart from the bench's --path-loss-exponent, the simulated channel's)
    model_path_loss_exponent: float = 2.0
    # Spread of one reading around the model: log-normal shadowing 4-6 dB indoors (up to
    # 8.7 dB on a harsh floor), plus fading the gateway's median smooths out, plus the error of
    # using a typical distance for a whole place: 7 dB keeps the two extremes believable.
    sigma_db: float = 7.0
    # A phone's own reading of a beacon also suffers the carrier's body: 3 dB on the open
    # side, 8-12 dB behind (Ghaddar et al. 2007); on average half of that, 5 dB, and a wider
    # spread.
    body_loss_db: float = 5.0
    beacon_sigma_db: float = 8.0
    # Below the model a reading says little: walls, shelves, bodies and a store longer than the
    # typical one only ever take signal away, so a weak reading is spread this wide (a split
    # normal), while one far above the model (nearer than thought) stays sharp evidence.
    weak_sigma_db: float = 20.0
    # Share of readings that follow no model (a reflection, a deep fade): their likelihood is
    # flat, so one freak reading cannot move a person across the store.
    outlier_share: float = 0.05
    # Glass shop front between the pavement and the store (WLAN planning tables: 3 dB).
    glass_db: float = 3.0
    # Typical distances (m) from a person in one place to what a device in another watches.
    # The doorway is 2-3 m across with its gateway on the frame: 1 m. A zone is 6 m across
    # with its beacon or gateway in the middle: 2.5 m. The floor gateway covers the floor
    # around it: 4 m. The pavement runs 2-3.5 m from the door. A bay's post is 3 m from the car.
    same_entrance_m: float = 1.0
    same_zone_m: float = 2.5
    same_floor_m: float = 4.0
    same_bay_m: float = 3.0
    front_to_door_m: float = 3.0
    # Across a small store (a zone to the floor's device, the door to the floor): 6 m; from
    # one zone to another or from the doorway to a zone: 10 m.
    near_in_store_m: float = 6.0
    across_store_m: float = 10.0
    # The pavement to a device in the store, a bay to the door: 12 m; a bay to the next bay's
    # post: 5 m; a bay to anything in the store: 20 m.
    front_to_store_m: float = 12.0
    bay_to_bay_m: float = 5.0
    bay_to_store_m: float = 20.0
    # Someone out of range but heard after all is at its edge: about 30 m at n = 2 (-88 dBm).
    away_m: float = 30.0
    # Mean stays (s): the rates of leaving each place. Walking 1-1.4 m/s (Bohannon 1997),
    # the doorway (3 m) takes 2-3 s, the pavement in front of the shop (10 m) about 8 s; a
    # shopper stops in a zone 10-240 s (a minute on average); the floor between zones is
    # crossed in about 10 s; a car waits at a bay 2-8 minutes.
    stay_entrance_s: float = 2.5
    stay_front_s: float = 8.0
    stay_floor_s: float = 15.0
    stay_zone_s: float = 60.0
    stay_bay_s: float = 240.0
    # How often someone out of range comes near the shop (per second): a passer or a shopper
    # walking up takes 10-20 s from the edge of range to the front.
    approach_rate: float = 0.05
    # Of those on the pavement in front, the share that turn in at the door rather than walk
    # on (busy-saturday: 200 shoppers for 300 passers an hour, so about 0.4), and of cars on
    # the lane those that turn into a bay.
    door_share: float = 0.4
    bay_share: float = 0.3
    # Of those in the doorway, the share that turn back (a second thought, a forgotten bag).
    turn_back_share: float = 0.1
    # A device below this level is not heard (a gateway's or a phone's sensitivity, about
    # -90 dBm; the tracker's reports stop a little above it): a source gone silent says the
    # person is where it would not hear them, with the probability the model gives that.
    detect_dbm: float = -88.0
    # ... at least this likely: a device heard a moment ago can miss a report (lost adverts,
    # a phone's scan window), so silence alone never rules a place out at once.
    miss_floor: float = 0.05
    # A source's word counts at this many readings' worth per second: its reports are not
    # independent (a still person's level is steady), so the evidence of a source heard for a
    # minute must not outweigh a fresh one by sixty to one.
    evidence_per_s: float = 0.5
    # A silent source says something for this long after it was last heard; later it is
    # forgotten (the person may be anywhere out of its range).
    silence_memory_s: float = 120.0


def zone_place(name: str | None) -> str:
    """The place key of a zone (the floor when unnamed)."""
    return ZONE_PREFIX + name if name else FLOOR


def bay_place(name: str | None) -> str:
    """The place key of a curbside bay."""
    return BAY_PREFIX + (name or "")


def place_key(kind: PlaceKind, name: str | None) -> str:
    """The place a gateway or beacon watches, as a key of the belief."""
    if kind == PlaceKind.ENTRANCE:
        return ENTRANCE
    if kind == PlaceKind.ZONE:
        return zone_place(name)
    if kind == PlaceKind.BAY:
        return bay_place(name)
    return FLOOR


def is_visit_place(place: str) -> bool:
    """Whether being in `place` means a visit (in the store or waiting at a bay)."""
    return place in IN_STORE or place.startswith((ZONE_PREFIX, BAY_PREFIX))


def _kind(place: str) -> str:
    if place.startswith(ZONE_PREFIX):
        return "zone"
    if place.startswith(BAY_PREFIX):
        return "bay"
    return place


def typical_distance_m(person: str, device: str, params: FilterParams) -> float:
    """How far a person in place `person` typically is from a device watching `device`."""
    person = ENTRANCE if person == LEAVING else person
    p, d = _kind(person), _kind(device)
    if person == AWAY:
        return params.away_m
    if person == device:
        return {
            ENTRANCE: params.same_entrance_m,
            FLOOR: params.same_floor_m,
            "zone": params.same_zone_m,
            "bay": params.same_bay_m,
        }.get(p, params.same_floor_m)
    if p == "bay" or d == "bay":
        if p == d:
            return params.bay_to_bay_m
        if FRONT in (p, d):
            return params.front_to_door_m * 2
        if ENTRANCE in (p, d):
            return params.front_to_store_m
        return params.bay_to_store_m
    if p == FRONT:
        return params.front_to_door_m if d == ENTRANCE else params.front_to_store_m
    if d == ENTRANCE or p == ENTRANCE:
        other = d if p == ENTRANCE else p
        return params.near_in_store_m if other == FLOOR else params.across_store_m
    if FLOOR in (p, d):
        return params.near_in_store_m
    return params.across_store_m


def expected_rssi(person: str, device: str, params: FilterParams) -> float:
    """The mean RSSI a device watching `device` reads of a person in `person` (or vice versa)."""
    distance = typical_distance_m(person, device, params)
    rssi = params.rssi_at_1m_dbm - 10 * params.model_path_loss_exponent * math.log10(distance)
    through_glass = person == FRONT and device != ENTRANCE and _kind(device) != "bay"
    return rssi - (params.glass_db if through_glass else 0.0)


def _likelihood(
    rssi: float, mean: float, sigma: float, weak_sigma: float, outliers: float
) -> float:
    """A split normal: `sigma` above the model's mean, `weak_sigma` below it, plus outliers."""
    spread = sigma if rssi >= mean else weak_sigma
    z = (rssi - mean) / spread
    normal = 2 * math.exp(-0.5 * z * z) / ((sigma + weak_sigma) * math.sqrt(2 * math.pi))
    return (1 - outliers) * normal + outliers / OUTLIER_SPAN_DB


@dataclass(frozen=True)
class Belief:
    """A person's probability per place, as of `at` (Unix seconds)."""

    probabilities: tuple[tuple[str, float], ...] = ((AWAY, 1.0),)
    at: float | None = None

    def as_dict(self) -> dict[str, float]:
        """The belief as a mapping place -> probability."""
        return dict(self.probabilities)

    def of(self, place: str) -> float:
        """The probability of one place."""
        return self.as_dict().get(place, 0.0)

    def visiting(self) -> float:
        """The probability of being in the store or at a bay."""
        return sum(p for place, p in self.probabilities if is_visit_place(place))

    def in_store(self) -> float:
        """The probability of being in the store (through its door)."""
        return sum(
            p
            for place, p in self.probabilities
            if is_visit_place(place) and not place.startswith(BAY_PREFIX)
        )


def _normalised(weights: Mapping[str, float]) -> tuple[tuple[str, float], ...]:
    total = sum(weights.values())
    if total <= 0:
        return ((AWAY, 1.0),)
    return tuple((place, max(FLOOR_PROBABILITY, w / total)) for place, w in sorted(weights.items()))


def with_places(belief: Belief, places: Iterable[str]) -> Belief:
    """The belief over its places and `places` (new ones start nearly impossible)."""
    known = belief.as_dict()
    for place in places:
        known.setdefault(place, FLOOR_PROBABILITY)
    for place in BASE_PLACES:
        known.setdefault(place, FLOOR_PROBABILITY)
    return Belief(_normalised(known), belief.at)


def transition_rates(place: str, places: Iterable[str], params: FilterParams) -> dict[str, float]:
    """Rates (per second) of moving from `place` to each neighbour, along the topology."""
    others = [p for p in places if p != place]
    zones = [p for p in others if p.startswith(ZONE_PREFIX)]
    bays = [p for p in others if p.startswith(BAY_PREFIX)]
    rates: dict[str, float] = {}
    if place == AWAY:
        rates[FRONT] = params.approach_rate
        for bay in bays:  # a car turns in from the lane
            rates[bay] = params.approach_rate * params.bay_share / max(1, len(bays))
    elif place == FRONT:
        leave = 1 / params.stay_front_s
        rates[AWAY] = leave * (1 - params.door_share)
        rates[ENTRANCE] = leave * params.door_share
        for bay in bays:
            rates[bay] = leave * params.bay_share / max(1, len(bays))
    elif place in (ENTRANCE, LEAVING):
        # On through the doorway, or (`turn_back_share`) back the way they came.
        on, back = (FLOOR, FRONT) if place == ENTRANCE else (FRONT, FLOOR)
        rates[on] = (1 - params.turn_back_share) / params.stay_entrance_s
        rates[back] = params.turn_back_share / params.stay_entrance_s
    elif place == FLOOR:
        leave = 1 / params.stay_floor_s
        exits = [LEAVING, *zones]
        for to in exits:
            rates[to] = leave / len(exits)
    elif place.startswith(ZONE_PREFIX):
        # Out of a zone to the floor; a neighbouring zone directly at a fifth of that.
        rates[FLOOR] = 1 / params.stay_zone_s
        for zone in zones:
            rates[zone] = 0.2 / params.stay_zone_s / max(1, len(zones))
    elif place.startswith(BAY_PREFIX):
        rates[AWAY] = 0.5 / params.stay_bay_s
        rates[FRONT] = 0.5 / params.stay_bay_s
    return rates


def predict(belief: Belief, params: FilterParams, now: float) -> Belief:
    """The belief at `now`: people move along the topology in the time since `belief.at`."""
    if belief.at is None or now <= belief.at:
        return Belief(belief.probabilities, now if belief.at is None else belief.at)
    elapsed = now - belief.at
    belief = with_places(belief, [])
    steps = min(MAX_PREDICT_STEPS, math.ceil(elapsed))
    dt = min(1.0, elapsed / steps)  # beyond MAX_PREDICT_STEPS seconds: settled anyway
    probs = belief.as_dict()
    places = list(probs)
    moves = {
        place: {
            to: 1 - math.exp(-rate * dt)
            for to, rate in transition_rates(place, places, params).items()
        }
        for place in places
    }
    for _ in range(steps):
        nxt = dict.fromkeys(places, 0.0)
        for place, p in probs.items():
            out = moves[place]
            nxt[place] += p * (1 - sum(out.values()))
            for to, share in out.items():
                nxt[to] += p * share
        probs = nxt
    return Belief(_normalised(probs), now)


@dataclass(frozen=True)
class Observation:
    """What one source says now: its level if it is current, or that it has gone silent."""

    device: str  # the place the gateway or beacon watches (`place_key`)
    by_phone: bool  # the phone heard a beacon (else a gateway heard the phone or tag)
    level: float | None  # calibrated dBm, None when the source is silent


def observe_now(
    belief: Belief, observations: Iterable[Observation], seconds: float, params: FilterParams
) -> Belief:
    """The belief after `seconds` of what every source says (a level, or its silence)."""
    weight = params.evidence_per_s * seconds
    if weight <= 0:
        return belief
    observations = list(observations)
    belief = with_places(belief, [o.device for o in observations])
    weights = belief.as_dict()
    for o in observations:
        sigma = params.beacon_sigma_db if o.by_phone else params.sigma_db
        loss = params.body_loss_db if o.by_phone else 0.0
        for place in weights:
            mean = expected_rssi(place, o.device, params) - loss
            if o.level is None:
                # Silence speaks only of the places near the source: across a store of another
                # shape than the typical one, a device may well not hear someone at all.
                near = typical_distance_m(place, o.device, params) <= params.near_in_store_m
                heard = 0.5 * math.erfc((params.detect_dbm - mean) / (sigma * math.sqrt(2)))
                likelihood = max(params.miss_floor, 1.0 - heard) if near else 1.0
            else:
                likelihood = _likelihood(
                    o.level, mean, sigma, params.weak_sigma_db, params.outlier_share
                )
            weights[place] *= likelihood**weight
    return Belief(_normalised(weights), belief.at)


def at_place(belief: Belief, place: str) -> Belief:
    """A belief sure of `place` (the shopper said where she is)."""
    known = with_places(belief, [place]).as_dict()
    return Belief(_normalised({p: 1.0 if p == place else 0.0 for p in known}), belief.at)


def most_likely(belief: Belief, among: Iterable[str] | None = None) -> tuple[str, float]:
    """The most probable place (among some, if given) and its probability."""
    chosen = set(among) if among is not None else None
    candidates = [
        (place, p) for place, p in belief.probabilities if chosen is None or place in chosen
    ]
    return max(candidates, key=lambda item: item[1], default=(AWAY, 0.0))
