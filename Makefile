# Makefile builds workorder with PGXS and holds the two commands a person needs:
#   make demo   installs what is missing, builds, starts a private cluster, loads Nanhai
#   make test   installs what is missing, builds, runs every test on a throwaway cluster

EXTENSION  = workorder
EXTVERSION = 0.5

MODULE_big = workorder
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
PG_CFLAGS  = -Wall -Wextra -Werror
# The server headers are included as system headers, so that -Wextra judges our
# code and not theirs (some of their inline functions leave parameters unused).
PG_CPPFLAGS = -I$(srcdir)/src -isystem $(shell $(PG_CONFIG) --includedir-server)

# The install script of the current version is assembled from sql/install/*.sql, in
# name order.  Install scripts of earlier versions are kept in git as they shipped
# (sql/workorder--0.1.sql, 0.2, 0.3, 0.4), and so are the upgrade scripts between them
# (sql/workorder--0.1--0.2.sql, 0.2--0.3, 0.3--0.4); they are never edited again.
#
# The upgrade script from the previous version is assembled by scripts/upgrade-script
# from the files named, one per line, in sql/upgrade/<from>--<to>.parts (paths
# relative to sql/): parts written for the upgrade (sql/upgrade/<from>--<to>/*.sql:
# ALTER TABLE, new triggers, dropped functions) and whole install parts that are new
# in this version.  The line @functions re-creates every function of the older
# install parts from its current text, so no body is ever copied by hand.  The last
# line is install/99_harden.sql.  test/scenario/upgrade.t proves that an updated
# database has the same schema as a fresh install.
PREVIOUS_VERSION = 0.4
UPGRADE_LIST  = sql/upgrade/$(PREVIOUS_VERSION)--$(EXTVERSION).parts
UPGRADE_PARTS = $(addprefix sql/,$(shell grep -v '^\s*\(#\|$$\|@\)' $(UPGRADE_LIST)))
INSTALL_PARTS = $(sort $(wildcard sql/install/*.sql))
DATA_built = sql/$(EXTENSION)--$(EXTVERSION).sql \
             sql/$(EXTENSION)--$(PREVIOUS_VERSION)--$(EXTVERSION).sql
# Earlier versions' secondary control files: what each of them required.
DATA       = $(filter-out $(DATA_built),$(wildcard sql/$(EXTENSION)--*.sql)) \
             $(wildcard $(EXTENSION)--*.control)

# Every sql/<name>.sql other than the install scripts is a pg_regress test.
REGRESS      = $(sort $(filter-out $(EXTENSION)--%,$(basename $(notdir $(wildcard sql/*.sql)))))
REGRESS_OPTS = --load-extension=postgis --load-extension=btree_gist --load-extension=$(EXTENSION)

# Objects depend on the headers they include (PGXS leaves that off by default, and a
# changed workorder.h then left stale objects behind).
override autodepend = yes

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
endif

sql/$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_PARTS)
	cat $^ > $@

sql/$(EXTENSION)--$(PREVIOUS_VERSION)--$(EXTVERSION).sql: $(UPGRADE_LIST) $(UPGRADE_PARTS) $(INSTALL_PARTS) scripts/upgrade-script
	perl scripts/upgrade-script $(UPGRADE_LIST) > $@

.PHONY: demo demo-stop test bench
demo:
	@bash scripts/demo.sh start
demo-stop:
	@bash scripts/demo.sh stop
test:
	@bash scripts/test.sh
bench:
	@for b in bench/*; do [ -x "$$b" ] && "$$b"; done
