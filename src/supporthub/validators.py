"""Field validators shared by several apps: IANA zones, countries, E.164 phone numbers."""

from __future__ import annotations

import zoneinfo
from functools import cache

import holidays
import phonenumbers
from django.core.exceptions import ValidationError


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in _zones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris)")


def validate_country(value: str) -> None:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValidationError(f"{value!r} is not an ISO 3166 country code (e.g. US, FR)")


@cache
def holiday_countries() -> dict[str, list[str]]:
    return dict(holidays.list_supported_countries())


def validate_holiday_country(value: str) -> None:
    if value not in holiday_countries():
        raise ValidationError(f"no national holidays are known for country {value!r}")


def validate_holiday_subdivision(country: str, subdivision: str) -> None:
    validate_holiday_country(country)
    known = holiday_countries()[country]
    if subdivision not in known:
        raise ValidationError(
            f"{subdivision!r} is not a subdivision of {country} for holidays "
            f"(known: {', '.join(known[:12])}{', ...' if len(known) > 12 else ''})"
        )


def normalise_phone(value: str, *, region: str | None = None) -> str:
    """Parse a phone number and return it in E.164, or raise ValidationError."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(f"{value!r} is not a phone number: {exc}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{value!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    if not value.startswith("+") or normalise_phone(value) != value:
        raise ValidationError(f"{value!r} is not in E.164 form (e.g. +14155550100)")


def clean_holiday_place(
    country: str,
    subdivision: str,
    *,
    country_field: str = "holiday_country",
    subdivision_field: str = "holiday_subdivision",
) -> None:
    """A model's holiday place (blank country: none; subdivision optional), as a
    ValidationError naming the field at fault."""
    if subdivision and not country:
        raise ValidationError({subdivision_field: "A holiday subdivision needs a holiday country."})
    try:
        if country and subdivision:
            validate_holiday_subdivision(country, subdivision)
        elif country:
            validate_holiday_country(country)
    except ValidationError as exc:
        raise ValidationError(
            {subdivision_field if subdivision else country_field: exc.messages}
        ) from None
