from django.contrib.admin.apps import AdminConfig


class ContentAdminConfig(AdminConfig):
    """Django's admin with our site (staff and editors may log in)."""

    default_site = "contentpipeline.admin_site.ContentAdminSite"
