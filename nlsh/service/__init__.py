"""The model as a service of the OS: one daemon per user holds the model,
schedules its time between clients by class and accounts for it, and opens it
to other programs through an OpenAI-compatible API (nlsh.service.server);
shells reach it through nlsh.service.client."""
