"""The campaign API and web page: plan jobs, the marketer chat, keys and the database they keep."""
