# Makefile builds workorder with PGXS and holds the two commands a person needs:
#   make demo   installs what is missing, builds, starts a private cluster, loads Nanhai
#   make test   installs what is missing, builds, runs every test on a throwaway cluster

EXTENSION  = workorder
EXTVERSION = 0.1

MODULE_big = workorder
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
PG_CFLAGS  = -Wall -Wextra -Werror
# The server headers are included as system headers, so that -Wextra judges our
# code and not theirs (some of their inline functions leave parameters unused).
PG_CPPFLAGS = -I$(srcdir)/src -isystem $(shell $(PG_CONFIG) --includedir-server)

# The install script of the current version is assembled from sql/install/*.sql, in
# name order; scripts of earlier versions and upgrade scripts are kept as they shipped.
INSTALL_PARTS = $(sort $(wildcard sql/install/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql
DATA       = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql))

# Every sql/<name>.sql other than the install scripts is a pg_regress test.
REGRESS      = $(sort $(filter-out $(EXTENSION)--%,$(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --load-extension=postgis --load-extension=$(EXTENSION)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
endif

$(DATA_built): $(INSTALL_PARTS)
	cat $^ > $@

.PHONY: demo demo-stop test bench
demo:
	@bash scripts/demo.sh start
demo-stop:
	@bash scripts/demo.sh stop
test:
	@bash scripts/test.sh
bench:
	@for b in bench/*; do [ -x "$$b" ] && "$$b"; done
