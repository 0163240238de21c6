"""Passwords for district logins are stored exactly as given, whatever they hold ("%" was
read as a driver placeholder by the string-built ALTER ROLE)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from proctoring.district import add_centre

from .conftest import DistrictEnv

PASSWORDS = ["pct%two", "pct%%two", "pct%done", "100% it's; DROP ROLE x; --", "mật khẩu%s"]


def _logs_in(district: DistrictEnv, role: str, password: str) -> bool:
    url = sa.make_url(district.admin_url).set(username=role, password=password)
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return bool(conn.exec_driver_sql("SELECT current_user").scalar_one() == role)
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()


def test_a_centre_logs_in_with_exactly_its_password(district: DistrictEnv) -> None:
    for password in PASSWORDS:  # one district: each add_centre sets the password anew
        creds = add_centre(district.admin_url, "HN01", password=password)
        assert creds.password == password
        assert _logs_in(district, creds.role, password), password
        # The URL handed back carries the password too (percent-encoded where it must be).
        assert sa.make_url(creds.url).password == password
        if "%%" in password:  # what the old code stored for it must not open the account
            assert not _logs_in(district, creds.role, password.replace("%%", "%"))

