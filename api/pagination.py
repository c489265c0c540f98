from rest_framework.pagination import CursorPagination


class NewestFirst(CursorPagination):
    """Cursor pagination, newest first: stable under inserts, fast at any depth."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
