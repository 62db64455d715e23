"""Where a webhook may be sent: hosts on the public internet only, unless allowed otherwise.

An admin (or anyone who can edit endpoints) could otherwise make the workers call services that
only the server can reach (the database's host, a cloud's metadata address, an internal admin
page) and read the first bytes of their answer in the delivery log. The host is resolved and
every address it has must be global; it is checked when the endpoint is saved and again before
each delivery, since a name may point elsewhere later. On-premises CRMs on a private network
are allowed with WEBHOOK_ALLOW_PRIVATE_ADDRESSES.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _


def webhook_address_problem(url: str) -> str | None:
    """Why this URL may not receive webhooks, or None."""
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return None
    host = urlsplit(url).hostname
    if not host:
        return _("The URL names no host.")
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return _("The host %(host)s cannot be found.") % {"host": host}
    for *_rest, sockaddr in infos:
        ip = sockaddr[0]
        assert isinstance(ip, str)  # a host name resolves to IPv4 and IPv6 addresses only
        address = ipaddress.ip_address(ip.split("%")[0])
        if not address.is_global:
            return _(
                "%(host)s is a private or local address (%(address)s); webhooks go to public "
                "hosts unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES is set."
            ) % {"host": host, "address": address}
    return None
