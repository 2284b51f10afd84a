"""Table builders for the simulated CRM (see :mod:`analysis.simulate.crm`).

Customers, orders, deliveries, returns, complaints, service contacts and web sessions,
all drawn with vectorised numpy from per-customer and per-order arrays. Category
codes follow ``survey/instrument.yaml`` where the survey asks the same thing
(``city_tier``, ``device``). String columns are pandas categoricals to keep a
million-customer database in memory.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Mapping

import numpy as np
import pandas as pd
from scipy import special

from analysis.errors import DataError

__all__ = [
    "CITY_TIERS", "CHANNELS", "DEVICES", "CATEGORIES", "PAYMENT_METHODS",
    "CONTACT_CHANNELS", "NEED_LEVELS", "REFERRAL_SOURCES", "KEYWORD_CLASSES",
    "LATENT_NAMES", "LATENT_ALIASES", "draw_latent", "draw_customers",
    "draw_service_outcomes", "build_orders", "build_service_tables", "build_customer_truth",
    "run_truth",
]

LATENT_NAMES = ("loyalty", "satisfaction", "trust", "fulfilment")
# Survey truth uses construct codes; either spelling is accepted for given latent scores.
LATENT_ALIASES = {"LOY": "loyalty", "SAT": "satisfaction", "TRU": "trust", "FUL": "fulfilment"}
CITY_TIERS = ("tier1", "new_tier1", "tier2", "tier3", "tier4_below", "outside_mainland")
CITY_TIER_SHARES = {"tier1": 0.16, "new_tier1": 0.22, "tier2": 0.25, "tier3": 0.19,
                    "tier4_below": 0.16, "outside_mainland": 0.02}
# Relative late-delivery risk and promised days (72-hour standard outside remote areas).
TIER_LATE_FACTOR = {"tier1": 0.7, "new_tier1": 0.8, "tier2": 1.0, "tier3": 1.2,
                    "tier4_below": 1.5, "outside_mainland": 1.8}
TIER_PROMISED_DAYS = {"tier1": 2, "new_tier1": 2, "tier2": 3, "tier3": 3,
                      "tier4_below": 4, "outside_mainland": 7}
CHANNELS = ("search", "social", "direct", "email", "affiliate", "marketplace_ad")
CHANNEL_SHARES = {"search": 0.32, "social": 0.22, "direct": 0.14, "email": 0.06,
                  "affiliate": 0.10, "marketplace_ad": 0.16}
REFERRAL_SOURCES = CHANNELS
DEVICES = ("phone_app", "phone_browser", "computer", "tablet")
DEVICE_SHARES = {"phone_app": 0.55, "phone_browser": 0.20, "computer": 0.20, "tablet": 0.05}
CATEGORIES = ("apparel", "electronics", "beauty", "home", "food", "books", "sports")
CATEGORY_SHARES = (0.26, 0.14, 0.16, 0.15, 0.13, 0.06, 0.10)
PAYMENT_METHODS = ("alipay", "wechat_pay", "bank_card", "credit_card", "cash_on_delivery")
PAYMENT_SHARES = (0.48, 0.34, 0.08, 0.07, 0.03)
RETURN_REASONS = ("size_or_fit", "not_as_described", "damaged", "wrong_item",
                  "changed_mind", "late_delivery")
RETURN_SHARES = (0.30, 0.22, 0.12, 0.08, 0.28, 0.0)
COMPLAINT_REASONS = ("late_delivery", "product_quality", "refund", "wrong_item",
                     "customer_service", "payment", "privacy")
COMPLAINT_SHARES = (0.0, 0.40, 0.0, 0.20, 0.22, 0.12, 0.06)
NEED_LEVELS = ("information", "online_help", "staff_contact", "co_creation")
NEED_SHARES = (0.50, 0.28, 0.17, 0.05)
CONTACT_CHANNELS = ("faq_self_service", "chat", "email", "phone", "community")
# Channel given need level (rows follow NEED_LEVELS): the four rising service levels.
CHANNEL_BY_NEED = np.array([[0.75, 0.15, 0.05, 0.00, 0.05],
                            [0.15, 0.60, 0.15, 0.10, 0.00],
                            [0.00, 0.20, 0.35, 0.45, 0.00],
                            [0.00, 0.00, 0.20, 0.00, 0.80]])
KEYWORD_CLASSES = ("brand", "product", "generic", "promotion", "none")
SECONDS_PER_WEEK = 7 * 86400


def _categorical(codes: np.ndarray, categories) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int8), categories=list(categories))


def _draw(rng: np.random.Generator, shares, size: int) -> np.ndarray:
    shares = np.asarray(shares, dtype=float)
    return np.searchsorted(np.cumsum(shares / shares.sum()), rng.random(size), side="right")


def _draw_rows(rng: np.random.Generator, matrix: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """One categorical draw per element of ``rows`` from the row-wise shares in ``matrix``."""
    cumulative = np.cumsum(matrix / matrix.sum(axis=1, keepdims=True), axis=1)[rows]
    return (rng.random(len(rows))[:, None] >= cumulative[:, :-1]).sum(axis=1)


def _shares(mapping, names) -> np.ndarray:
    return np.array([float(mapping.get(name, 0.0)) for name in names])


def _seconds(weeks: np.ndarray) -> np.ndarray:
    return np.round(weeks * SECONDS_PER_WEEK).astype("int64").astype("timedelta64[s]")


def _mixed_preference(rng, preferred: np.ndarray, owner: np.ndarray, stay: float,
                      shares) -> np.ndarray:
    """Per-row code: the owner's preferred code with probability ``stay``, else a fresh draw."""
    fresh = _draw(rng, shares, len(owner))
    return np.where(rng.random(len(owner)) < stay, preferred[owner], fresh)


def draw_latent(n: int, corr: np.ndarray, latent: pd.DataFrame | None,
                rng: np.random.Generator) -> pd.DataFrame:
    """Standard-normal latent scores; rows given in ``latent`` are kept, the rest drawn.

    Attitudes missing from ``latent`` are drawn from their normal distribution
    conditional on the given ones, so the correlation structure holds for everybody.
    """
    scores = rng.standard_normal((n, len(LATENT_NAMES))) @ np.linalg.cholesky(corr).T
    frame = pd.DataFrame(scores, columns=list(LATENT_NAMES))
    frame["respondent_id"] = pd.Series([None] * n, dtype="string")
    if latent is None:
        return frame
    renamed = latent.rename(columns=LATENT_ALIASES)
    given = [c for c in LATENT_NAMES if c in renamed]
    if not given:
        raise DataError(f"latent: expected at least one column among {list(LATENT_NAMES)} "
                        f"or {list(LATENT_ALIASES)}, got {list(latent.columns)}")
    if len(renamed) > n:
        raise DataError(f"latent: has {len(renamed)} rows but n_customers is {n}; expected "
                        "at most n_customers rows")
    observed = renamed[given].to_numpy(float)
    if not np.all(np.isfinite(observed)):
        raise DataError(f"latent: columns {given} must be finite numbers (no missing values)")
    m, g = len(observed), [LATENT_NAMES.index(c) for c in given]
    rest = [i for i in range(len(LATENT_NAMES)) if i not in g]
    completed = scores[:m].copy()
    completed[:, g] = observed
    if rest:  # conditional normal of the missing attitudes given the observed ones
        s_gg, s_rg = corr[np.ix_(g, g)], corr[np.ix_(rest, g)]
        coef = np.linalg.solve(s_gg, s_rg.T).T
        cond = corr[np.ix_(rest, rest)] - coef @ s_rg.T
        noise = rng.standard_normal((m, len(rest))) @ np.linalg.cholesky(cond).T
        completed[:, rest] = observed @ coef.T + noise
    frame.iloc[:m, :len(LATENT_NAMES)] = completed
    if "respondent_id" in renamed:
        frame.loc[: m - 1, "respondent_id"] = renamed["respondent_id"].astype("string").values
    return frame


def draw_customers(n: int, params, end_week: float, rng: np.random.Generator) -> pd.DataFrame:
    """Customer master data; ``_age_weeks`` (observation time since signup) is internal."""
    start = np.datetime64(params.start_date, "s")
    signup_week = rng.uniform(0.0, params.acquisition_months * 365.25 / 12 / 7, n)
    return pd.DataFrame({
        "customer_id": np.arange(1, n + 1, dtype=np.int64),
        "signup_date": start + _seconds(signup_week),
        "acquisition_channel": _categorical(
            _draw(rng, _shares(params.acquisition_channel_shares, CHANNELS), n), CHANNELS),
        "city_tier": _categorical(_draw(rng, _shares(params.city_tier_shares, CITY_TIERS), n),
                                  CITY_TIERS),
        "device": _categorical(_draw(rng, _shares(params.device_shares, DEVICES), n), DEVICES),
        "_age_weeks": end_week - signup_week,
    })


def draw_service_outcomes(owner: np.ndarray, city_tier: pd.Series, params,
                          rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Late delivery, return and complaint outcome of every candidate order.

    Late-delivery risk differs by city tier but is scaled so that its mean over the tier
    shares is ``1 - on_time_rate``.
    """
    shares = _shares(params.city_tier_shares, CITY_TIERS)
    factor = np.array([TIER_LATE_FACTOR[t] for t in CITY_TIERS])
    factor = factor / (shares / shares.sum() @ factor)
    late_rate = np.minimum((1 - params.on_time_rate) * factor, 1.0)
    tier_code = np.asarray(city_tier.cat.codes)
    size = len(owner)
    late = rng.random(size) < late_rate[tier_code[owner]]
    returned = rng.random(size) < params.return_rate
    complaint_probability = np.minimum(params.complaint_rate + params.complaint_rate_late * late
                                       + params.complaint_rate_return * returned, 1.0)
    complaint = rng.random(size) < complaint_probability
    resolved = rng.random(size) < params.resolution_rate
    return {"late": late, "returned": returned, "complaint": complaint,
            "unresolved": complaint & ~resolved}


def build_orders(order_owner: np.ndarray, order_weeks: np.ndarray, customers: pd.DataFrame,
                 params, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
    """Orders sorted by time (``order_id`` increases with time) and that sort order.

    Spend follows Gamma-Gamma: ``nu_i ~ Gamma(q, rate gamma)``, each order
    ``~ Gamma(p, rate nu_i)``, rounded to cents.
    """
    n = len(customers)
    nu = rng.gamma(params.q, 1.0 / params.gamma, n)
    amount = np.maximum(np.round(rng.gamma(params.p, 1.0 / nu[order_owner]), 2), 0.01)
    timestamp = customers["signup_date"].to_numpy()[order_owner] + _seconds(order_weeks)
    sort = np.argsort(timestamp, kind="stable")
    favourite = _draw(rng, CATEGORY_SHARES, n)
    wallet = _draw(rng, PAYMENT_SHARES, n)
    category = _mixed_preference(rng, favourite, order_owner, 0.5, CATEGORY_SHARES)
    payment = _mixed_preference(rng, wallet, order_owner, 0.8, PAYMENT_SHARES)
    items = 1 + rng.poisson(0.3 + amount / 80.0)
    orders = pd.DataFrame({
        "order_id": np.arange(1, len(sort) + 1, dtype=np.int64),
        "customer_id": customers["customer_id"].to_numpy()[order_owner[sort]],
        "timestamp": timestamp[sort],
        "amount": amount[sort],
        "items": items[sort].astype(np.int32),
        "category": _categorical(category[sort], CATEGORIES),
        "payment_method": _categorical(payment[sort], PAYMENT_METHODS),
    })
    return orders, sort


def build_service_tables(orders: pd.DataFrame, sort: np.ndarray, flags: dict, customers,
                         latent: pd.DataFrame, end_week: float, params,
                         rngs) -> dict[str, pd.DataFrame]:
    """Deliveries, returns, complaints, service contacts and sessions for the orders."""
    flags = {k: v[sort] for k, v in flags.items()}
    owner = orders["customer_id"].to_numpy() - 1  # customer_id is 1..n by construction
    tier_code = np.asarray(customers["city_tier"].cat.codes)[owner]
    promised = np.array([TIER_PROMISED_DAYS[t] for t in CITY_TIERS])[tier_code]
    rng = rngs[0]
    early = rng.binomial(promised - 1, 0.35)
    delay = rng.geometric(0.45, len(orders))
    actual = np.where(flags["late"], promised + delay, promised - early)
    deliveries = pd.DataFrame({"order_id": orders["order_id"].to_numpy(),
                               "promised_days": promised.astype(np.int16),
                               "actual_days": actual.astype(np.int16),
                               "on_time": ~flags["late"]})
    returned = flags["returned"]
    reason = _draw(rng, RETURN_SHARES, int(returned.sum()))
    late_reason = flags["late"][returned] & (rng.random(int(returned.sum())) < 0.35)
    reason = np.where(late_reason, RETURN_REASONS.index("late_delivery"), reason)
    share = np.where(rng.random(len(reason)) < 0.75, 1.0, rng.uniform(0.3, 0.9, len(reason)))
    returns = pd.DataFrame({"order_id": orders["order_id"].to_numpy()[returned],
                            "reason": _categorical(reason, RETURN_REASONS),
                            "refund_amount": np.round(orders["amount"].to_numpy()[returned]
                                                      * share, 2)})
    complaints = _complaints(orders, flags, actual, rngs[1])
    contacts = _service_contacts(orders, owner, len(customers), latent, end_week, params,
                                 customers, rngs[2])
    sessions = _sessions(orders, owner, customers, latent, end_week, params, rngs[3])
    return {"deliveries": deliveries, "returns": returns, "complaints": complaints,
            "service_contacts": contacts, "sessions": sessions}


def _complaints(orders, flags, actual_days, rng) -> pd.DataFrame:
    rows = np.flatnonzero(flags["complaint"])
    reason = _draw(rng, COMPLAINT_SHARES, len(rows))
    returned = flags["returned"][rows] & (rng.random(len(rows)) < 0.6)
    reason = np.where(returned, COMPLAINT_REASONS.index("refund"), reason)
    reason = np.where(flags["late"][rows], COMPLAINT_REASONS.index("late_delivery"), reason)
    resolved = ~flags["unresolved"][rows]
    days = np.where(resolved, np.round(0.5 + rng.gamma(1.5, 2.0, len(rows)), 1), np.nan)
    lag = actual_days[rows] / 7 + rng.uniform(0, 3 / 7, len(rows))
    return pd.DataFrame({
        "complaint_id": np.arange(1, len(rows) + 1, dtype=np.int64),
        "customer_id": orders["customer_id"].to_numpy()[rows],
        "order_id": orders["order_id"].to_numpy()[rows],
        "timestamp": orders["timestamp"].to_numpy()[rows] + _seconds(lag),
        "reason": _categorical(reason, COMPLAINT_REASONS),
        "resolved": resolved,
        "days_to_resolve": days,
    })


def _service_contacts(orders, owner, n, latent, end_week, params, customers, rng):
    """Contacts anchored on a random order of the customer, within ten days after it."""
    by_customer = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=n)
    per_customer = rng.poisson(params.contacts_per_order * counts)
    contact_owner = np.repeat(np.arange(n), per_customer)
    first = np.cumsum(counts) - counts
    pick = first[contact_owner] + np.floor(rng.random(len(contact_owner))
                                           * counts[contact_owner]).astype(np.int64)
    anchor = orders["timestamp"].to_numpy()[by_customer[pick]]
    end = np.datetime64(params.start_date, "s") + _seconds(np.array([end_week]))[0]
    timestamp = np.minimum(anchor + _seconds(rng.uniform(0, 10 / 7, len(pick))), end)
    loyalty = latent["loyalty"].to_numpy()[contact_owner]
    # Co-creation (community) needs are more common among loyal customers.
    need_matrix = np.tile(NEED_SHARES, (2, 1))
    need_matrix[1] = (0.44, 0.26, 0.15, 0.15)
    need = _draw_rows(rng, need_matrix, (loyalty > 1).astype(np.int64))
    channel = _draw_rows(rng, CHANNEL_BY_NEED, need)
    order = np.argsort(timestamp, kind="stable")
    return pd.DataFrame({
        "contact_id": np.arange(1, len(order) + 1, dtype=np.int64),
        "customer_id": customers["customer_id"].to_numpy()[contact_owner[order]],
        "timestamp": timestamp[order],
        "channel": _categorical(channel[order], CONTACT_CHANNELS),
        "need_level": _categorical(need[order], NEED_LEVELS),
    })


def _sessions(orders, owner, customers, latent, end_week, params, rng) -> pd.DataFrame:
    """One converting session per order plus browsing sessions while the customer is active."""
    n = len(customers)
    loyalty = latent["loyalty"].to_numpy()
    signup = customers["signup_date"].to_numpy()
    start = np.datetime64(params.start_date, "s")
    signup_week = (signup - start) / np.timedelta64(1, "s") / SECONDS_PER_WEEK
    last_week = np.full(n, -np.inf)
    order_week = (orders["timestamp"].to_numpy() - signup[owner]) / np.timedelta64(1, "s")
    np.maximum.at(last_week, owner, order_week / SECONDS_PER_WEEK)
    active = np.minimum(last_week + 8.0, end_week - signup_week)
    browse_rate = (params.browse_sessions_per_week * rng.gamma(2.0, 0.5, n)
                   * np.exp(0.3 * loyalty - 0.045))
    browse_owner = np.repeat(np.arange(n), rng.poisson(browse_rate * active))
    browse_time = signup[browse_owner] + _seconds(rng.random(len(browse_owner))
                                                  * active[browse_owner])
    buy_time = np.maximum(orders["timestamp"].to_numpy()
                          - _seconds(rng.uniform(0, 0.5 / 168, len(owner))), signup[owner])
    who = np.concatenate([owner, browse_owner])
    converted = np.arange(len(who)) < len(owner)
    timestamp = np.concatenate([buy_time, browse_time])
    size, loyal = len(who), loyalty[who]
    channel = np.asarray(customers["acquisition_channel"].cat.codes).astype(np.int64)
    referral = _mixed_preference(rng, channel, who, 0.4, _shares(CHANNEL_SHARES, CHANNELS))
    direct = (referral != CHANNELS.index("direct")) & (
        rng.random(size) < special.expit(-1.6 + 0.6 * loyal))
    referral = np.where(direct, CHANNELS.index("direct"), referral)
    keyword = _draw(rng, (0.0, 0.45, 0.35, 0.20), size)
    keyword = np.where(rng.random(size) < special.expit(-0.8 + 0.6 * loyal), 0, keyword)
    keyword = np.where(referral == CHANNELS.index("search"), keyword, len(KEYWORD_CLASSES) - 1)
    depth = np.where(converted, 6.0, 2.5) * np.exp(0.1 * loyal) * rng.gamma(2.0, 0.5, size)
    pages = 1 + rng.poisson(depth)
    dwell = np.round(pages * rng.lognormal(np.log(40.0) + 0.1 * loyal, 0.5), 1)
    device_codes = np.asarray(customers["device"].cat.codes).astype(np.int64)
    device = _mixed_preference(rng, device_codes, who, 0.8, _shares(DEVICE_SHARES, DEVICES))
    order_id = np.concatenate([orders["order_id"].to_numpy(),
                               np.zeros(len(browse_owner), dtype=np.int64)])
    sort = np.argsort(timestamp, kind="stable")
    return pd.DataFrame({
        "session_id": np.arange(1, size + 1, dtype=np.int64),
        "customer_id": customers["customer_id"].to_numpy()[who[sort]],
        "timestamp": timestamp[sort],
        "referral_source": _categorical(referral[sort], REFERRAL_SOURCES),
        "keyword_class": _categorical(keyword[sort], KEYWORD_CLASSES),
        "pages": pages[sort].astype(np.int32),
        "dwell_sec": dwell[sort],
        "device": _categorical(device[sort], DEVICES),
        "converted": converted[sort],
        "order_id": pd.arrays.IntegerArray(order_id[sort], mask=~converted[sort]),
    })


def build_customer_truth(frame, customers, rate, dropout, one_time, slope, owner, times,
                         position, realized, dropped, flags, params,
                         year_weeks: float) -> pd.DataFrame:
    """Per-customer truth: latent scores, individual parameters and realised behaviour."""
    n = len(customers)
    order_owner = owner[realized]
    n_late = np.bincount(order_owner, weights=flags["late"], minlength=n)
    n_unresolved = np.bincount(order_owner, weights=flags["unresolved"], minlength=n)
    left = realized & dropped
    dropout_week = np.full(n, np.nan)
    dropout_week[owner[left]] = times[left]
    repeat_window = realized & (position > 0) & (times <= year_weeks)
    frame = frame.copy()
    frame.insert(0, "customer_id", customers["customer_id"].to_numpy())
    frame["satisfaction_experienced"] = (frame["satisfaction"]
                                         - params.late_delivery_satisfaction * n_late
                                         - params.unresolved_complaint_satisfaction * n_unresolved)
    frame["fulfilment_experienced"] = frame["fulfilment"] - params.late_delivery_fulfilment * n_late
    frame["purchase_rate"] = rate
    frame["dropout_probability"] = dropout
    frame["one_time_probability"] = one_time
    frame["effect_multiplier"] = slope
    frame["n_late_deliveries"] = n_late.astype(np.int64)
    frame["n_unresolved_complaints"] = n_unresolved.astype(np.int64)
    frame["dropped_out"] = ~np.isnan(dropout_week)
    frame["dropout_week"] = dropout_week
    frame["repeat_purchases_12m"] = np.bincount(owner[repeat_window], minlength=n)
    frame["repeat_12m"] = frame["repeat_purchases_12m"] > 0
    return frame


def run_truth(params, n, months, end_week, intercept, orders, db_tables, truth_frame) -> dict:
    """Run-level truth: parameters, realised base rates and attitude-behaviour links."""
    start = np.datetime64(params.start_date, "s")
    end = start + np.timedelta64(int(round(end_week * 7 * 86400)), "s")
    deliveries, complaints = db_tables["deliveries"], db_tables["complaints"]
    repeat = truth_frame["repeat_12m"].to_numpy(float)
    corr = {name: float(np.corrcoef(truth_frame[name], repeat)[0, 1])
            for name in ("loyalty", "satisfaction", "trust")}
    return {
        "format": "eloyalty-crm-truth/1",
        "params": {k: (dict(v) if isinstance(v, Mapping) else v)
                   for k, v in asdict(params).items()},
        "n_customers": n, "months": months, "time_unit": "week",
        "observation_end": str(end), "observation_end_week": end_week,
        "one_time_logit_intercept": intercept,
        "n_orders": len(orders),
        "repeat_rate_12m": float(repeat.mean()),
        "on_time_rate": float(deliveries["on_time"].mean()),
        "return_rate": float(len(db_tables["returns"]) / max(len(orders), 1)),
        "complaint_rate": float(len(complaints) / max(len(orders), 1)),
        "resolution_rate": float(complaints["resolved"].mean()) if len(complaints) else None,
        "corr_latent_repeat_12m": corr,
        "feedback": {
            "late_delivery": {"extra_dropout_probability": params.late_delivery_dropout,
                              "satisfaction_shift_sd": -params.late_delivery_satisfaction,
                              "fulfilment_shift_sd": -params.late_delivery_fulfilment},
            "unresolved_complaint": {
                "extra_dropout_probability": params.unresolved_complaint_dropout,
                "satisfaction_shift_sd": -params.unresolved_complaint_satisfaction},
        },
    }
