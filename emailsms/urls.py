app_name = "emailsms"

urlpatterns: list = []
