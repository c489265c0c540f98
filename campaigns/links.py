"""Short links: GET /l/<code> records a click and redirects to the campaign's URL.

A code names one recipient's message and one of the body's links
(messaging.merge.link_code), so a click is known per recipient without any lookup
table. The redirect is public (the recipient is not signed in) and must be fast and
never fail: an unknown code gets the friendly 404, and a click that cannot be stored
still redirects (the person matters more than the count).

Link-preview fetchers (a messaging app unfurling the link, a chat app previewing it)
and HEAD requests are redirected without counting a click.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_safe

from campaigns.models import CampaignLink, Click
from messaging import merge
from messaging.models import Direction, Message

log = logging.getLogger(__name__)

# A real code is at most 11 base-62 digits plus the index; anything longer is noise.
MAX_CODE_LENGTH = 12
# Larger ids overflow PostgreSQL's bigint: a 404, not a database error.
MAX_MESSAGE_ID = 2**63 - 1
USER_AGENT_LENGTH = Click._meta.get_field("user_agent").max_length

# Link-preview and unfurl fetchers. iMessage fetches previews with a user agent that
# names facebookexternalhit and Twitterbot; Google Messages with Google-PageRenderer.
# Deliberately not a bare "bot": some phone makers' names contain it ("CUBOT").
PREVIEW_AGENTS = re.compile(
    r"facebookexternalhit|facebookcatalog|facebot|twitterbot|slackbot|slack-imgproxy|"
    r"whatsapp|telegrambot|discordbot|linkedinbot|applebot|skypeuripreview|linkpreview|"
    r"google-pagerenderer|googlebot|bingbot|bingpreview|microsoftpreview|redditbot|"
    r"pinterest|embedly|iframely|vkshare|viber|snapchat|mastodon|bitlybot|"
    r"yandexbot|duckduckbot|petalbot|zoominfobot",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Target:
    message_id: int
    campaign_id: int
    contact_id: int | None
    link_id: int
    url: str


def is_preview_fetcher(user_agent: str) -> bool:
    return bool(PREVIEW_AGENTS.search(user_agent))


def with_utm(url: str, utm: str) -> str:
    """The URL with the campaign's UTM parameters added to its query string.

    The link's own query is kept byte for byte (re-encoding it could change what the
    destination reads); a parameter the link already names keeps the link's value;
    the fragment stays last."""
    utm = utm.strip().lstrip("?&")
    if not utm:
        return url
    scheme, netloc, path, query, fragment = urlsplit(url)
    present = {key for key, _ in parse_qsl(query, keep_blank_values=True)}
    extra: list[tuple[str, str]] = []
    for key, value in parse_qsl(utm, keep_blank_values=True):
        if key and key not in present:
            present.add(key)
            extra.append((key, value))
    if not extra:
        return url
    added = urlencode(extra, quote_via=quote)
    query = query.rstrip("&")
    return urlunsplit((scheme, netloc, path, f"{query}&{added}" if query else added, fragment))


def link_resolve(code: str) -> Target | None:
    """The message and campaign link a code names, or None when there is none."""
    if len(code) > MAX_CODE_LENGTH:
        return None
    parsed = merge.parse_link_code(code)
    if parsed is None:
        return None
    message_id, index = parsed
    if not 0 < message_id <= MAX_MESSAGE_ID:
        return None
    message = (
        Message.objects.filter(
            pk=message_id, direction=Direction.OUTBOUND, campaign_id__isnull=False
        )
        .values_list("campaign_id", "contact_id")
        .first()
    )
    if message is None:
        return None
    campaign_id, contact_id = message
    link = (
        CampaignLink.objects.filter(campaign_id=campaign_id, index=index)
        .values_list("pk", "url", "campaign__utm")
        .first()
    )
    if link is None:
        return None
    link_id, url, utm = link
    return Target(message_id, campaign_id, contact_id, link_id, with_utm(url, utm))


def click_record(*, target: Target, user_agent: str) -> Click:
    return Click.objects.create(
        message_id=target.message_id,
        campaign_id=target.campaign_id,
        link_id=target.link_id,
        contact_id=target.contact_id,
        user_agent=user_agent[:USER_AGENT_LENGTH],
    )


@require_safe
def short_link_redirect(request: HttpRequest, code: str) -> HttpResponse:
    target = link_resolve(code)
    if target is None:
        raise Http404("unknown short link")
    user_agent = request.headers.get("User-Agent", "")
    if request.method == "GET" and not is_preview_fetcher(user_agent):
        try:
            click_record(target=target, user_agent=user_agent)
        except DatabaseError:
            log.exception("click on %s not recorded", code)
    response = HttpResponseRedirect(target.url)
    # Every tap must reach us to be counted: no browser or proxy may keep the redirect.
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
