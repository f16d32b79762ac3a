/*-------------------------------------------------------------------------
 *
 * workorder.h
 *	  Declarations shared by the C files of the workorder extension: the
 *	  project's SQLSTATEs and the entry points one file offers another.
 *
 * Every error the extension raises on bad input carries one of the SQLSTATEs
 * below, so that a channel connector can tell "your input is wrong" from
 * "the database is unwell".  The same codes are listed in README.md and are
 * used, as strings, by the SQL parts of the extension.
 *
 *-------------------------------------------------------------------------
 */
#ifndef WORKORDER_H
#define WORKORDER_H

#include "postgres.h"

/* Class WO: workorder input errors. */

/* WO001: a ticket's text is not of the form YYYYMMDD-NNNNNN-C. */
#define ERRCODE_WO_INVALID_TICKET			MAKE_SQLSTATE('W','O','0','0','1')
/* WO002: a ticket's check digit does not match: probably mistyped. */
#define ERRCODE_WO_TICKET_CHECK_DIGIT		MAKE_SQLSTATE('W','O','0','0','2')
/* WO003: a day has run out of ticket numbers (sequence number over 999999). */
#define ERRCODE_WO_TICKETS_EXHAUSTED		MAKE_SQLSTATE('W','O','0','0','3')

extern void _PG_init(void);

#endif							/* WORKORDER_H */
