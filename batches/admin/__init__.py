"""Admin for lab staff; each topic registers its ModelAdmins in its own module, imported here.

The site itself (its index, its custom pages) is config.admin.CellBatchAdminSite.
"""

from django.contrib import admin
from django_otp.plugins.otp_totp.models import TOTPDevice

from batches.admin import (
    accounts,
    batch,
    custody,
    documents,
    imports,
    inputs,
    master,
    people,
    requirements,
    trial,
    workstations,
)

# django-otp's own admin lets an administrator create an authenticator for any user and read its secret
# (QR code): that is a second factor of somebody else. Each user enrols their own on the authenticator
# page; nobody else's device is shown.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)

__all__ = [
    "accounts",
    "batch",
    "custody",
    "documents",
    "imports",
    "inputs",
    "master",
    "people",
    "requirements",
    "trial",
    "workstations",
]
